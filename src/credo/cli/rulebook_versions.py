"""`credo rulebook list|show|diff`: which versions are published, the text of one, what changed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from credo.cli import rulebooks
from credo.cli.common import DEFAULT_STORE, JsonOpt, StoreOpt, data_table, emit, fail, stdout, store
from credo.errors import CredoError
from credo.ledger.book import utc_now
from credo.ledger.chain import from_micros, micros
from credo.ledger.model import StoredVersion
from credo.rules.diff import diff as rule_diff
from credo.rules.lint import load_rulebook, loads_rulebook
from credo.rules.model import Rulebook
from credo.storage.sql import SqlStore


def _in_force(versions: list[StoredVersion], at_us: int) -> StoredVersion | None:
    started = [version for version in versions if version.effective_us <= at_us]
    return max(started, key=lambda version: (version.effective_us, version.position), default=None)


def _find(versions: list[StoredVersion], wanted: str) -> StoredVersion:
    """A published version by its version string (the latest publication of it) or its ledger position."""
    named = [version for version in versions if version.version == wanted]
    if not named and wanted.isdigit():
        named = [version for version in versions if version.position == int(wanted)]
    if not named:
        known = ", ".join(dict.fromkeys(version.version for version in versions)) or "none"
        fail(f"no rulebook version {wanted!r} is published in this store; published: {known}")
    return named[-1]


def _versions(url: str) -> tuple[SqlStore, list[StoredVersion]]:
    opened = store(url)
    return opened, list(opened.versions())


def list_versions(url: StoreOpt = DEFAULT_STORE, as_json: JsonOpt = False) -> None:
    """Every published version: name, version, when it takes effect, and which is in force now."""
    _, versions = _versions(url)
    current = _in_force(versions, micros(utc_now()))
    rows: list[dict[str, Any]] = [
        {"position": v.position, "name": v.name, "version": v.version,
         "effective": from_micros(v.effective_us).isoformat(), "published": from_micros(v.published_us).isoformat(),
         "retroactive": v.retroactive, "in_force": v is current}
        for v in versions
    ]  # fmt: skip
    if as_json:
        for row in rows:
            emit(row)
        return
    table = data_table("position", "rulebook", "version", "effective", "published", "")
    for row in rows:
        note = "in force" if row["in_force"] else ("retroactive" if row["retroactive"] else "")
        table.add_row(
            str(row["position"]), row["name"], row["version"], row["effective"][:19], row["published"][:19], note
        )
    table.show()


def show(
    version: Annotated[
        str | None, typer.Argument(help="The version (or its ledger position); default: the one in force now.")
    ] = None,
    url: StoreOpt = DEFAULT_STORE,
) -> None:
    """Print the published text of one rulebook version, exactly as it was published."""
    _, versions = _versions(url)
    if version is None:
        found = _in_force(versions, micros(utc_now()))
        if found is None:
            fail("no rulebook version is in force now; name one (see `credo rulebook list`)")
    else:
        found = _find(versions, version)
    sys.stdout.write(found.text if found.text.endswith("\n") else found.text + "\n")


def _rulebook(reference: str, url: str) -> tuple[str, Rulebook]:
    """A rulebook file, or a version published in the store; with the name to show it by."""
    path = Path(reference)
    try:
        if path.is_file():
            return str(path), load_rulebook(path)
        _, versions = _versions(url)
        found = _find(versions, reference)
        return f"{found.name} {found.version}", loads_rulebook(found.text, f"<rulebook version at {found.position}>")
    except CredoError as exc:
        fail(str(exc))


def diff(
    a: Annotated[str, typer.Argument(help="The earlier rulebook: a YAML file, or a version in the store.")],
    b: Annotated[str, typer.Argument(help="The later rulebook: a YAML file, or a version in the store.")],
    url: StoreOpt = DEFAULT_STORE,
    as_json: JsonOpt = False,
) -> None:
    """What changed from A to B: behaviours, programs, points, lists, actions and measures added, removed, changed."""
    name_a, rulebook_a = _rulebook(a, url)
    name_b, rulebook_b = _rulebook(b, url)
    changes = rule_diff(rulebook_a, rulebook_b)
    if as_json:
        emit({"a": name_a, "b": name_b, "changes": [change.as_dict() for change in changes]})
        return
    stdout.print(f"{name_a} → {name_b}: {len(changes)} change(s)", markup=False)
    for change in changes:
        stdout.print(f"  {change.sentence()}", markup=False)


def register(_: typer.Typer) -> None:
    rulebooks.publishing.command(name="list")(list_versions)
    rulebooks.publishing.command()(show)
    rulebooks.publishing.command()(diff)
