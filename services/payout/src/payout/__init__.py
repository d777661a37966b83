"""DIFE payout: paying the organisations, amounts due, DIFE capture, SEPA credit transfers, bank returns, fund position."""
