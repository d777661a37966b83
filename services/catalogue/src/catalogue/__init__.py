"""DIFE catalogue: training organisations (OF) and their agréments, offers and sessions, search, quality."""
