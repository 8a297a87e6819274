"""`mlstrat synth`: registered on the app when implemented."""
