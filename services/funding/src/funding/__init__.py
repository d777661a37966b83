"""DIFE funding: the funding plan of every dossier (DIFE, collectivité top-ups, CPF/CEC, card)."""
