"""Background work of the ledger: thin entry points that own their transactions and call the use cases."""
