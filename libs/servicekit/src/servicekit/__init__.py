"""The runtime every DIFE service shares. See libs/servicekit/README.md for the map."""
