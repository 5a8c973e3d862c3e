"""Commands about rulebooks: lint, schema, test, and publishing one to the ledger."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from credo import render
from credo.cli.common import DEFAULT_STORE, JsonOpt, RulebookArg, StoreOpt, emit, fail, ledger, stderr, stdout
from credo.errors import CredoError, RulebookFileError
from credo.rules import lint_file
from credo.rules.model import Rulebook
from credo.testing import run_path
from credo.testing.junit import junit_xml


def lint(rulebook: RulebookArg, as_json: JsonOpt = False) -> None:
    """Check a rulebook: errors refuse it (exit 1); warnings are its rights impact report."""
    try:
        _, report = lint_file(rulebook)
    except RulebookFileError as exc:  # no rulebook at all (missing, binary, too large): bad input, as elsewhere
        fail(str(exc))
    if as_json:
        emit(
            {
                "file": report.file,
                "ok": report.ok,
                "errors": [finding.as_dict() for finding in report.errors],
                "warnings": [finding.as_dict() for finding in report.warnings],
            }
        )
    else:
        render.lint_report(stderr if report.errors else stdout, report)
    if report.errors:
        raise typer.Exit(1)


def schema() -> None:
    """Print the JSON Schema of rulebooks, for editors that validate YAML as it is typed."""
    document = Rulebook.model_json_schema(by_alias=True)
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "credo rulebook"
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def test(
    path: Annotated[Path, typer.Argument(help="A scenario folder, a folder of scenarios, or one test file.")],
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write the results as JUnit XML to this file (for CI).")
    ] = None,
) -> None:
    """Run the YAML rulebook tests (tests/*.yaml beside each rulebook.yaml) under PATH."""
    if not path.exists():
        fail(f"{path}: no such file or folder")
    results = run_path(path)
    if not results:
        fail(f"{path}: no rulebook tests found (tests/*.yaml beside a rulebook.yaml)")
    if junit is not None:
        try:
            junit.write_bytes(junit_xml(results))
        except OSError as exc:
            fail(f"--junit {junit}: cannot write it ({exc.strerror})")
    failed = [result for result in results if not result.passed]
    for result in failed:
        stderr.print(f"[red]FAIL[/red] {result.file}:{result.line} {result.name}", markup=True)
        for failure in result.failures:
            stderr.print(f"     {failure}", markup=False)
    summary = f"{len(results) - len(failed)} passed, {len(failed)} failed"
    (stderr if failed else stdout).print(summary, markup=False)
    if failed:
        raise typer.Exit(1)


publishing = typer.Typer(help="Rulebook versions in the ledger: publish, list, show, diff.", no_args_is_help=True)


@publishing.command()
def publish(
    rulebook: RulebookArg,
    effective: Annotated[str, typer.Option("--effective", help="When the version takes effect (ISO 8601).")],
    retroactive: Annotated[
        bool, typer.Option("--retroactive", help="Allow a later version to take effect in the past (recorded as such).")
    ] = False,
    url: StoreOpt = DEFAULT_STORE,
    as_json: JsonOpt = False,
) -> None:
    """Publish a rulebook version; lint errors refuse it. A version is never edited, only succeeded."""
    book = ledger(url)
    try:
        done = book.publish_file(rulebook, effective, retroactive)
    except CredoError as exc:
        fail(str(exc))
    if as_json:
        emit({"position": done.position, "published": done.new})
    elif done.new:
        stdout.print(f"published {rulebook} at ledger position {done.position}, effective {effective}")
    else:
        stdout.print(f"{rulebook} is already in force from {effective} (ledger position {done.position}): "
                     "nothing to publish")  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command()(lint)
    app.command()(schema)
    app.command(name="test")(test)
    app.add_typer(publishing, name="rulebook")
