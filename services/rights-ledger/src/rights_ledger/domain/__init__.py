"""Pure rules of the ledger: no I/O, no framework, no database (see DOMAIN.md §1)."""
