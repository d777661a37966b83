"""DIFE funding: the funding plan of every dossier (DIFE first, collectivité top-ups, CPF/CEC, card) and its holds."""
