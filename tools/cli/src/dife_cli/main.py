"""Entry point of the `dife` command."""

import typer

app = typer.Typer(no_args_is_help=True, help="Operate the DIFE platform over its REST APIs.")
