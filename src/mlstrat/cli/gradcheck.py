"""`mlstrat gradcheck`: registered on the app when implemented."""
