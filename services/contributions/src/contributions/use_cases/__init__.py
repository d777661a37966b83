"""Orchestration: load through the repository, decide in the domain, save and write events; never commit."""
