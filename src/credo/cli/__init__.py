"""The command line: a thin shell over the library. Data to stdout, messages to stderr.

Exit codes: 0 fine; 1 the answer is "no" (lint found errors, a rulebook test failed, the chain
does not verify, `check --fail-on-deny` was denied); 2 bad input (a rulebook, a records file, an
instant, a name or a store that cannot be used).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperOption

from credo.cli import (
    appeals,
    demo,
    keys,
    ledger,
    population,
    questions,
    rulebook_versions,
    rulebooks,
    service,
    simulation,
)
from credo.cli.usage import CredoGroup

_option_type = TyperOption.display_type_rich


def _flag_type(self: TyperOption, ctx: Any) -> str | None:
    """A flag takes no value: help shows `--json`, not `--json <bool>` (Typer prints every type)."""
    return None if self.is_flag else _option_type(self, ctx)


TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

app = typer.Typer(
    name="credo",
    help="credo: an open, accountable engine for points-based trust programs.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    cls=CredoGroup,
)


def _version(show: bool) -> None:
    if show:
        from credo import __version__

        typer.echo(f"credo {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print credo's version and exit."),
    ] = False,
) -> None:
    """credo: an open, accountable engine for points-based trust programs."""


for module in (rulebooks, rulebook_versions, questions, ledger, service, keys, appeals, population, simulation, demo):
    module.register(app)


def main() -> None:
    app()


__all__ = ["app", "main"]
