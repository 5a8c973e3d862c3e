"""The command line: a thin shell over the library. Data to stdout, messages to stderr.

Exit codes: 0 fine; 1 the answer is "no" (lint found errors, a rulebook test failed, the chain
does not verify); 2 bad input (a rulebook, a records file, an instant, a name or a store that
cannot be used).
"""

from __future__ import annotations

import typer

from credo.cli import demo, ledger, population, questions, rulebooks, service, simulation
from credo.cli.usage import CredoGroup

app = typer.Typer(
    name="credo",
    help="credo: an open, accountable engine for points-based trust programs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=CredoGroup,
)
for module in (rulebooks, questions, ledger, service, population, simulation, demo):
    module.register(app)


def main() -> None:
    app()


__all__ = ["app", "main"]
