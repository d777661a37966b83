"""Handlers of the events the catalogue consumes."""
