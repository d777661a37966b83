"""DIFE rights ledger: the élus registry, their mandates and the DIFE account of each, in euro cents."""
