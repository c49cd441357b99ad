"""The Quantix peer: the daemon every host runs."""

__version__ = "0.1.0"
