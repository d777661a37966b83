"""All SQL and file formats of the contributions service."""
