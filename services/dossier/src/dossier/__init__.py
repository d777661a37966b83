"""DIFE dossier: the training dossier from request to payment (DOMAIN.md §3)."""
