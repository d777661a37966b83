"""Pure rules of the dossier: the state machine, deadlines in French working days, eligibility (R-DOS-1…6)."""
