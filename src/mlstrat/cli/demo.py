"""`mlstrat demo`: registered on the app when implemented."""
