"""DIFE contributions: the 1 % contribution of collectivités, declarations, periodicity, payments, bank statements, late periods."""
