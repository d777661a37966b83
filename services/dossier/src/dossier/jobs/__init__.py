"""Timers of the dossier (servicekit.jobs): thin, each in the transaction that marks the job done."""
