"""HTTP entry points: parse, authorize from the token, call one use case, return a schema."""
