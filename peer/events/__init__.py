"""Cluster events: records in the bounded ``events`` table, listed and streamed by the API."""
