"""HTTP entry points of the catalogue."""
