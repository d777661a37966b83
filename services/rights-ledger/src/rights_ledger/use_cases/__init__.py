"""Use cases: load through repositories, decide with the domain, save through repositories and the outbox.
No SQL, and they never commit: the HTTP request, the consumed event or the job owns the transaction."""
