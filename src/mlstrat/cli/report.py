"""`mlstrat report`: registered on the app when implemented."""
