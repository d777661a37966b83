"""Orchestration: load through the repository, decide with the domain, save, outbox, timers. No SQL; never
commits (the API request, the consumer or the timer that calls a use case owns the transaction)."""
