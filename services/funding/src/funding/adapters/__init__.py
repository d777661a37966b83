"""All of funding's SQL: the tables and the repositories that turn rows into domain objects."""
