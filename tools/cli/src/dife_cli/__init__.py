"""`dife`: the operators command-line tool."""

SERVICES = ("ledger", "catalogue", "dossier", "funding", "contributions", "payout")
"""The services the CLI talks to, by the short name used in `--service` and in `DIFE_CLI_<NAME>_URL`."""
