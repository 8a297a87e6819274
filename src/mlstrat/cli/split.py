"""`mlstrat split`: registered on the app when implemented."""
