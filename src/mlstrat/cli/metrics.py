"""`mlstrat metrics`: registered on the app when implemented."""
