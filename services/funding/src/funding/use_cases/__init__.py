"""Orchestration: load through a repository, decide in the domain, save with the outbox; never commit."""
