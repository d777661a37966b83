"""DIFE contributions: the 1 % contribution of collectivités (declarations, payments, late periods)."""
