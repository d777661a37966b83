"""Use cases: load through repositories, apply a domain rule, write the state and its events. They never
commit: the HTTP request or the consumed event owns the transaction."""

SOURCE = "/dife/rights-ledger"
