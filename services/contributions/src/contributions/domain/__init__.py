"""Pure rules of the 1 % contribution (DOMAIN.md §6, R-CON-1…4): no I/O, no framework."""
