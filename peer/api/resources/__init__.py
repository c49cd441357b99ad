"""The API's resources, one module (one ``Routes`` table) each."""
