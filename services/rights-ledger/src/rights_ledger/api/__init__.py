"""HTTP API of the ledger (``/v1``)."""
