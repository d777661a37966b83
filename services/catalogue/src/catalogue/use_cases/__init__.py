"""Orchestration of the catalogue: load through a repository, decide with the domain, save through the
repository and the outbox. No SQL here and never a commit: the entry point (a request, an event handler)
owns the transaction. Each use case takes the small protocols of ``ports`` so it runs on fakes as well."""
