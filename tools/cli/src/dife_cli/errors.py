"""The one error a command reports to the operator (kept free of heavy imports: `dife token` is fast)."""

from __future__ import annotations


class CliError(Exception):
    """A failure the operator must read: printed as is (no traceback), exit code `exit_code`."""

    def __init__(self, message: str, *, details: list[str] | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.exit_code = exit_code
