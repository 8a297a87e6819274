"""`mlstrat errors`: registered on the app when implemented."""
