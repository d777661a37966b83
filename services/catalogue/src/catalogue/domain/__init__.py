"""Pure catalogue rules (DOMAIN.md §2 and R-DOS-6): no I/O, no framework, no database."""
