"""Usage errors (a missing option, an unknown one, a bad value) as one `credo: error:` line.

Typer prints Click's usage errors in a four-line box; every other credo error is one line that
says what to do, so the top command reads the command line itself and prints them the same way.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from rich.markup import escape

# Typer vendors Click; its exception classes are importable only from there (typer <0.30 is pinned).
from typer import Abort
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from credo.cli.common import stderr


def _usage_line(exc: ClickException) -> str:
    message = " ".join(exc.format_message().split())
    if isinstance(exc, UsageError) and exc.ctx is not None:
        return f"{message} (see '{exc.ctx.command_path} --help')"
    return message


class CredoGroup(TyperGroup):
    """The `credo` command: as Typer's, but a usage error is one line on stderr (exit 2)."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except NoArgsIsHelpError as exc:  # `credo` or `credo keys` alone: the help, as Click shows it
            exc.show()
            _exit(exc.exit_code)
        except ClickException as exc:
            stderr.print(f"[red]credo: error:[/red] {escape(_usage_line(exc))}", markup=True)
            _exit(exc.exit_code)
        except Abort:
            stderr.print("aborted")
            _exit(1)
        _exit(code if isinstance(code, int) else 0)


def _exit(code: int) -> NoReturn:
    sys.exit(code)
