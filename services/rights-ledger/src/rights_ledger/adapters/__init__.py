"""Database tables and repositories, and the bulk jobs that work on them set-based."""
