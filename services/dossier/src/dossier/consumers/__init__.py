"""Handlers of the events of other contexts: thin, in the inbox transaction servicekit opens."""
