"""HTTP routers: parse, authorize, call one use case, answer a schema; the request owns the transaction."""
