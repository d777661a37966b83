"""What every command shares: the settings, the token, the service clients, and the error contract."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer

from dife_cli.errors import CliError

if TYPE_CHECKING:
    from dife_cli.client import ServiceClient
    from dife_cli.settings import CliSettings

P = ParamSpec("P")
R = TypeVar("R")


class Cli:
    """Settings (env, then flags) and one bearer token, minted when first needed."""

    def __init__(self, overrides: dict[str, Any]) -> None:
        self._overrides = overrides
        self._settings: CliSettings | None = None
        self._token: str | None = None

    @property
    def settings(self) -> CliSettings:
        """Read on first use (pydantic-settings costs a few hundred ms to import)."""
        if self._settings is None:
            from dife_cli.settings import CliSettings

            self._settings = CliSettings(**self._overrides)
            self._token = self._settings.token
        return self._settings

    def token(self) -> str:
        settings = self.settings
        if self._token is None:
            from dife_cli.tokens import CLI_SUBJECT, Identity, Minter, load_dev_private_pem

            minter = Minter(
                load_dev_private_pem(settings.keys_dir),
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
            )
            self._token = minter.mint(["agent", "ops"], Identity(sub=CLI_SUBJECT))
        token: str = self._token
        return token

    def client(self, service: str) -> ServiceClient:
        from dife_cli.client import ServiceClient

        return ServiceClient(
            service, self.settings.url_of(service), self.token(), timeout_s=self.settings.timeout_s
        )


def operator_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Print a `CliError` (message, then one line per rule) and exit 1; no traceback reaches the operator."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        from dife_cli.render import err

        try:
            return command(*args, **kwargs)
        except CliError as error:
            err.print(f"[bold red]error:[/bold red] {error.message}", highlight=False)
            for line in error.details:
                err.print(f"  • {line}", highlight=False)
            raise typer.Exit(error.exit_code) from None
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except Exception as error:
            if os.environ.get("DIFE_CLI_DEBUG"):
                raise
            err.print(f"[bold red]unexpected error:[/bold red] {type(error).__name__}: {error}")
            err.print("(set DIFE_CLI_DEBUG=1 for the traceback)")
            raise typer.Exit(1) from None

    return run


def cli_of(ctx: typer.Context) -> Cli:
    obj = ctx.find_root().obj
    assert isinstance(obj, Cli)
    return obj
