"""DIFE dossier: the training dossier from request to payment, deadlines in French working days, controls, evaluation, the public list of financed trainings."""
