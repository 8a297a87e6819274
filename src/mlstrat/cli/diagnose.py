"""`mlstrat diagnose`: registered on the app when implemented."""
