"""What a YAML syntax error means in plain words, and what to do about it.

The parser's own words ("did not find expected key", "found character that cannot start any
token") are kept, in brackets, for whoever searches them; the hint before them says what is most
likely wrong in a rulebook and how to fix it. The hints are keyed on the parser's words and on the
offending line itself (a tab in its indentation is the commonest cause of all).
"""

from __future__ import annotations

_HINTS: tuple[tuple[str, str], ...] = (
    (
        "mapping values are not allowed",
        "a ': ' inside a value: quote the value (\"a: b\"), or put a nested key on its own line, indented",
    ),
    (
        "could not find expected ':'",
        "a line in a mapping without 'key: value': add the ':' or indent the line to continue the one above",
    ),
    (
        "expected '-' indicator",
        "a 'key: value' among list items: start the item with '- ', or indent the list under a key",
    ),
    ("expected ',' or ']'", "a list opened with '[' is not closed, or an item in it needs quotes"),
    ("expected ',' or '}'", "a mapping opened with '{' is not closed, or a value in it needs quotes"),
    ("while scanning a quoted scalar", "a quote is opened here but never closed"),
    ("found unexpected end of stream", "the file ends inside a value: close the quote or bracket opened here"),
    ("found undefined alias", "aliases (*name) are not allowed in a rulebook: write the value out"),
    (
        "expected <block end>",
        "this line does not fit the indentation above it: a list item or value where a key of the "
        "mapping above was expected; align it with its sibling keys, or indent it under a key",
    ),
    (
        "did not find expected key",
        "this line does not fit the indentation above it: a list item or value where a key of the "
        "mapping above was expected; align it with its sibling keys, or indent it under a key",
    ),
    (
        "expected the node content",
        "a key or list item without a value where one was expected: check the line and the one above",
    ),
)


def hint(problem: str, context: str, line: str, above: str, column: int) -> str:
    """The plain hint for a parser's problem on `line` (the last non-blank line before it is `above`)."""
    indentation = line[: len(line) - len(line.lstrip(" \t"))]
    if "\t" in indentation or "tab" in problem or "\t" in above[: len(above) - len(above.lstrip(" \t"))]:
        return "tabs are not allowed for indentation in YAML: indent with spaces"
    if "cannot start any token" in problem and column < len(line):
        found = line[column]
        if found == "\t":
            return "a tab where a value was expected: YAML needs spaces here"
        if found in "@`":
            return f"{found!r} cannot start a plain value in YAML: quote the value"
        if found == "%":
            return "'%' cannot start a plain value in YAML: quote the value"
    for words, advice in _HINTS:
        if words in problem or words in context:
            return advice
    return "check this line's indentation (spaces only) and quoting against the lines above it"


def snippet(number: int, line: str, column: int) -> str:
    """The offending line under its number, and a caret at the 0-based column."""
    shown = line.replace("\t", "→")  # a tab shown as one visible character keeps the caret under it
    return f"{number:>5} | {shown}\n      | {' ' * column}^"


def syntax_message(problem: str, context: str, number: int, line: str, above: str, column: int) -> str:
    """A syntax error in a person's words: the hint, the parser's words, the line and a caret."""
    said = ", ".join(part for part in (context, problem) if part)
    advice = hint(problem, context, line, above, column)
    return f"{advice} (YAML parser: {said})\n{snippet(number, line, column)}"
