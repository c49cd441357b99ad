"""The replicated cluster store: tables of versioned plain-data records over pysyncobj."""
