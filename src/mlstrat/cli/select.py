"""`mlstrat select`: registered on the app when implemented."""
