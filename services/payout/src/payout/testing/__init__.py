"""Test support shipped with the service (like `servicekit.testing`): in-memory stores for the use cases,
kept honest by `tests/integration/test_fakes_contract.py`."""
