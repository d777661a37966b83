"""PostgreSQL tables, repositories and search queries of the catalogue."""
