"""The console's screens: each turns API data into lines and keys into API calls."""
