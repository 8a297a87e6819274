"""`mlstrat mismatch`: registered on the app when implemented."""
