"""Scheduled work: thin, owns the transaction, calls one use case."""
