"""DIFE payout: paying the organisations (amounts due, DIFE capture, SEPA transfers, bank returns, fund)."""
