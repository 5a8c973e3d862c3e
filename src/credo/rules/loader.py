"""Read a rulebook from YAML, keeping the line of every key so each error can name it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from credo.errors import RulebookError, RulebookFileError
from credo.rules.document import KeyPath, SourceMap, format_path, read_document
from credo.rules.messages import describe_validation_error, resolve_path, validation_problems
from credo.rules.model import Rulebook

#: The largest rulebook credo reads. A national rulebook is tens of kilobytes; the limit only
#: keeps a mistaken or hostile file from costing minutes (the HTTP API's body limit, 1 MiB, is lower).
MAX_RULEBOOK_BYTES = 5 * 1024 * 1024

_UTF16_32 = {b"\xff\xfe\x00\x00": "UTF-32", b"\x00\x00\xfe\xff": "UTF-32", b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16"}

__all__ = [
    "MAX_RULEBOOK_BYTES",
    "KeyPath",
    "SourceMap",
    "describe_validation_error",
    "format_path",
    "parse_rulebook",
    "read_rulebook",
    "read_yaml",
    "resolve_path",
]


def read_yaml(text: str, file: str) -> tuple[Any, SourceMap]:
    """Parse YAML into plain Python values and a map of where each key stands (no aliases, no tags)."""
    return read_document(text, file)


def _too_large(file: str) -> RulebookFileError:
    return RulebookFileError(
        [f"{file}: the rulebook is larger than {MAX_RULEBOOK_BYTES // (1024 * 1024)} MiB, the most credo reads"], file
    )


def _kind(value: Any) -> str:
    if value is None:
        return "an empty document"
    if isinstance(value, list):
        return "a list"
    return f"a single value ({type(value).__name__})"


def parse_rulebook(text: str, file: str = "<rulebook>") -> tuple[Rulebook, SourceMap]:
    """Validate a rulebook's text against the contract (without lint)."""
    if len(text) > MAX_RULEBOOK_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_RULEBOOK_BYTES:
        raise _too_large(file)
    document, source = read_document(text, file)
    if not isinstance(document, dict):
        raise RulebookFileError(
            [f"{file}:1: not a rulebook: expected a YAML mapping with keys rulebook, version, behaviours, ...; "
             f"found {_kind(document)}"],
            file,
        )  # fmt: skip
    try:
        rulebook = Rulebook.model_validate(document)
    except ValidationError as exc:
        raise RulebookError(validation_problems(exc, document, source, Rulebook), file) from exc
    return rulebook, source


def _decode(data: bytes, file: str) -> str:
    for bom, encoding in _UTF16_32.items():
        if data.startswith(bom):
            raise RulebookFileError([f"{file}: not UTF-8 text but {encoding}: save the rulebook as UTF-8"], file)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RulebookFileError(
            [f"{file}: not UTF-8 text (byte {exc.start} is {data[exc.start:exc.start + 1]!r}): "
             "a rulebook is a YAML text file in UTF-8; is this a binary file?"],
            file,
        ) from None  # fmt: skip


def read_rulebook(path: str | Path) -> tuple[Rulebook, SourceMap]:
    """Read and validate a rulebook file (without lint)."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_RULEBOOK_BYTES + 1)
    except OSError as exc:
        raise RulebookFileError([f"{path}: cannot read the rulebook: {exc.strerror or exc}"], str(path)) from exc
    if len(data) > MAX_RULEBOOK_BYTES:
        raise _too_large(str(path))
    return parse_rulebook(_decode(data, str(path)), str(path))
