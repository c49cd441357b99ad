"""``quantix``: the command-line client of the Quantix API."""
