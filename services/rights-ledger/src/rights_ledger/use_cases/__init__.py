"""Use cases: load through repositories, decide with the domain, save through repositories and the outbox.
No SQL, and they never commit: the HTTP request, the consumed event or the job owns the transaction."""

RNE_IMPORT = "rne_import"
ACCRUAL_CAMPAIGN = "accrual_campaign"
EXPIRY_RUN = "expiry_run"
"""The ledger's job kinds: the API starts them, `jobs/` runs them."""
