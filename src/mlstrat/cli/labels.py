"""`mlstrat labels`: registered on the app when implemented."""
