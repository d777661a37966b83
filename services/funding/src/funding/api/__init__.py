"""FastAPI routers of funding: parse, authorize, call one use case, return a schema."""
