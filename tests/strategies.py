"""Hypothesis strategies for random rulebooks and ledgers, shared by every property test."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import unicodedata
from typing import Any

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from credo.rules import Rulebook, lint
from credo.semantics import Record

BEHAVIOURS = ["a", "b", "c", "d", "e"]
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
DURATIONS = ["P1M", "P3M", "P6M", "P1Y", "P2Y", "P30D"]


@st.composite
def points_rules(draw: st.DrawFn, favourable: bool) -> dict[str, Any]:
    sign = 1 if favourable else -1
    magnitudes = draw(st.lists(st.integers(1, 20), min_size=1, max_size=3))
    rule: dict[str, Any] = {"points": sign * magnitudes[0] if len(magnitudes) == 1 else [sign * m for m in magnitudes]}
    if draw(st.booleans()):
        rule["expires_after"] = draw(st.sampled_from(DURATIONS))
    if isinstance(rule["points"], list) and draw(st.booleans()):
        rule["repeat_window"] = draw(st.sampled_from(DURATIONS))
    if draw(st.booleans()):
        rule["cap"] = {"points": draw(st.integers(1, 30)), "per": draw(st.sampled_from(["year", "quarter", "month"]))}
    return rule


@st.composite
def rulebooks(draw: st.DrawFn) -> Rulebook:
    """A valid rulebook: one program over the behaviours, a reset, optional clamps, tiers and lists."""
    points: dict[str, Any] = {}
    for behaviour in BEHAVIOURS[:4]:
        points[behaviour] = draw(points_rules(favourable=behaviour in {"a", "b"}))
    if draw(st.booleans()):
        points["e"] = {"reset": True}
    start = draw(st.integers(-10, 50))
    program: dict[str, Any] = {"start": start, "points": points}
    floor = draw(st.one_of(st.none(), st.integers(-20, start)))
    ceiling = draw(st.one_of(st.none(), st.integers(start, start + 60)))
    if floor is not None:
        program["floor"] = floor
    if ceiling is not None:
        program["ceiling"] = ceiling
    bounds = sorted(set(draw(st.lists(st.integers(-30, 80), min_size=1, max_size=4))))
    if floor is not None:
        bounds = sorted({min(bounds[0], floor), *bounds[1:]})
    program["tiers"] = {f"t{index}": bound for index, bound in enumerate(bounds)}
    program["resets"] = draw(st.sampled_from([None, "year", "quarter", "month"]))
    if draw(st.booleans()):
        program["enrol_on"] = ["e"] if "e" in points else ["a"]
    threshold = draw(st.integers(-10, 40))
    lists: dict[str, Any] = {
        "low": {"kind": "black", "enter_when": {"program": "p", "score_below": threshold}},
        "marked": {"kind": "black", "enter_on": ["c"], "leave_on": ["a"], "lasts": draw(st.sampled_from(DURATIONS))},
        "latched": {"kind": "black", "enter_when": {"program": "p", "score_at_most": threshold}, "lasts": "P6M"},
    }
    document = {
        "rulebook": "random",
        "version": "1",
        "behaviours": {name: {"category": "conduct"} for name in BEHAVIOURS},
        "programs": {"p": program},
        "lists": lists,
        "actions": {"act": {"context": "conduct"}},
        "measures": {
            "ban": {
                "action": "act",
                "effect": "deny",
                "basis": "test",
                "when": {"any": [{"list": "low"}, {"list": "marked"}]},
            },
            "slow": {"action": "act", "effect": "limit", "basis": "test", "when": {"list": "latched"}},
            "perk": {"action": "act", "effect": "perk", "basis": "test", "when": {"program": "p", "tier_in": ["t0"]}},
        },
    }
    rulebook = Rulebook.model_validate(document)
    assert lint(rulebook).ok, lint(rulebook).errors
    return rulebook


#: Hours after midnight UTC: mostly none (so that records share instants), else hours at which
#: the calendar day or month differs between zones (16:00 UTC is midnight in Shanghai, 04:00 and
#: 05:00 are midnight in New York).
HOURS = [0, 0, 0, 0, 4, 5, 16, 17, 23]


def instants(max_days: int = 3 * 366) -> st.SearchStrategy[dt.datetime]:
    return st.builds(
        lambda days, hours: START + dt.timedelta(days=days, hours=hours),
        st.integers(0, max_days),
        st.sampled_from(HOURS),
    )


@st.composite
def ledgers(draw: st.DrawFn, subjects: tuple[str, ...] = ("s",), max_size: int = 25) -> list[Record]:
    rows = draw(
        st.lists(st.tuples(st.sampled_from(subjects), st.sampled_from(BEHAVIOURS), instants()), max_size=max_size)
    )
    return [Record(subject, behaviour, at, f"r{index}") for index, (subject, behaviour, at) in enumerate(rows)]


# Hostile values (issue 16 item 10): what an attacker or a careless client sends. Each strategy
# names a class of defect seen in a probe; the fuzzer (tests/test_fuzz.py) drives them through the
# rulebook loader, the record readers and every HTTP route.

#: Characters Python's str.isdigit() or int() read as digits, though they are not ASCII digits.
UNICODE_DIGITS = ["²", "¹", "³", "٣", "۳", "߃", "१", "๓", "１", "𝟗", "⑤", "½"]
#: Whitespace that str.strip() removes, including what is not ASCII.
WHITESPACE = [
    " ",
    "\t",
    "\n",
    "\r",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x85",
    "\xa0",
    "\u1680",
    "\u2000",
    "\u2028",
    "\u2029",
    "\u202f",
    "\u205f",
    "\u3000",
]
#: NUL, other control characters, a byte-order mark, bidi overrides, a lone surrogate.
CONTROLS = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\x9b", "\ufeff", "\u202e", "\u200b", "\ud800"]
NUMBERS_AS_TEXT = [
    "99999999999999999999999",
    "-0",
    "-0.0",
    "0x10",
    "1e309",
    "NaN",
    "Infinity",
    "+1",
    "1_000",
    "-9223372036854775809",
    "18446744073709551616",
    "0" * 400 + "1",
]
#: Instants at the edges of what datetime can hold, with the widest offsets ISO 8601 allows.
EXTREME_INSTANTS = [
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59+14:00",
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59.999999-23:59",
    "0001-01-01T00:00:00+23:59",
    "2024-02-30",
    "2024-13-01",
    "2024-01-01T24:00:00",
    "2024-01-01T25:00",
    "+10000-01-01",
    "-0001-01-01",
    "2024-W01-1",
    "2024-001",
    "2024-01-01T00:00:00+14:01",
    "20240101T000000Z",
    "1970-01-01T00:00:00Z",
    "2025-06-01T00:00:00.0000001Z",
]


def hostile_text(known: tuple[str, ...] = ("p-zhang-wei", "court", "buy_flight_ticket")) -> st.SearchStrategy[str]:
    """Text as a hostile client sends it: known names padded or spliced with whitespace, controls
    and unicode digits; numbers as text; instants; very long strings; anything."""
    odd = st.sampled_from(UNICODE_DIGITS + WHITESPACE + CONTROLS)
    spliced = st.builds(lambda a, s, b: a[:b] + s + a[b:], st.sampled_from(known), odd, st.integers(0, 30))
    padded = st.builds(
        lambda a, s, t: s + a + t,
        st.sampled_from(known),
        st.sampled_from(["", *WHITESPACE]),
        st.sampled_from(["", *WHITESPACE]),
    )
    return st.one_of(
        st.sampled_from(known),
        padded,
        spliced,
        st.sampled_from(UNICODE_DIGITS + NUMBERS_AS_TEXT + EXTREME_INSTANTS),
        st.text(st.sampled_from(UNICODE_DIGITS + WHITESPACE + CONTROLS), min_size=1, max_size=5),
        st.builds(lambda c, n: c * n, st.sampled_from(["a", "é", "\x00", "9"]), st.sampled_from([201, 2001, 5001])),
        st.text(max_size=20),
    )


def hostile_numbers() -> st.SearchStrategy[Any]:
    """Numbers a JSON parser accepts: huge, negative zero, the smallest subnormal, bools, NaN."""
    return st.one_of(
        st.sampled_from([-0.0, 0.0, 1e308, -1e308, 5e-324, 10**30, -(10**30), 2**63, -(2**63) - 1, 3.0, True, False]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(),
    )


def instants_text() -> st.SearchStrategy[str]:
    """Instants in and out of range: the edges, years 1 and 9999 with offsets up to ±14:00, and typos."""
    built = st.builds(
        lambda year, month, offset: f"{year:04d}-{month:02d}-01T00:00:00{offset}",
        st.sampled_from([1, 2, 1969, 1970, 2024, 9998, 9999]),
        st.integers(1, 12),
        st.sampled_from(["", "Z", "+00:00", "-00:00", "+14:00", "-14:00", "+05:45", "-12:00"]),
    )
    return st.one_of(st.sampled_from(EXTREME_INSTANTS), built)


def json_values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any JSON value, hostile leaves included."""
    leaves = st.one_of(st.none(), hostile_numbers(), hostile_text())
    return st.recursive(
        leaves,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(hostile_text(), inner, max_size=4)),
        max_leaves=max_leaves,
    )


def deep_json() -> st.SearchStrategy[str]:
    """JSON text nested deeper than any parser's recursion limit, or one object very wide."""
    return st.one_of(
        st.builds(
            lambda n, o: ("[" * n + "]" * n) if o else ('{"a":' * n + "1" + "}" * n),
            st.sampled_from([100, 1000, 5000, 50000]),
            st.booleans(),
        ),
        st.builds(lambda n: "{" + ",".join(f'"k{i}":{i}' for i in range(n)) + "}", st.sampled_from([1000, 20000])),
        st.builds(lambda n: "[" + ",".join(["1e999"] * n) + "]", st.integers(1, 3)),
    )


def yaml_bombs(max_levels: int = 5) -> st.SearchStrategy[str]:
    """A 'billion laughs': nine aliases per level, `levels` deep (9**levels leaves), placed where
    the rulebook expects a value. max_levels bounds what the fuzzer dares to send."""
    return st.builds(
        lambda levels, place: "\n".join(
            ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
            + [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels)]
            + [f"{place}: *a{levels - 1}"]
        ),
        st.integers(2, max_levels),
        st.sampled_from(["rulebook", "behaviours", "description"]),
    )


YAML_TAGS = [
    "!!python/object/apply:os.system ['true']",
    "!!python/name:os.system",
    "!!binary aGVsbG8=",
    "!!timestamp 2001-12-14",
    "!!set {a, b}",
    "!!omap [a: 1]",
    "!custom x",
    "!!float .nan",
    "!!int 0o17",
    "!!str",
    "!<tag:yaml.org,2002:str> x",
    "*undefined",
    "&a x",
    "<<: *missing",
]


@st.composite
def hostile_rulebooks(draw: st.DrawFn, base: str) -> str:
    """A rulebook's text (base, e.g. the article's) with one line's value replaced by a hostile
    one: a YAML tag, an alias, an instant, a number, control characters; or the text mangled
    (a BOM, NUL, CRLF, a merge key, binary), or a bomb."""
    lines = base.splitlines()
    choice = draw(st.integers(0, 3))
    if choice == 3:
        return draw(yaml_bombs())
    if choice == 2:
        mangle = draw(st.sampled_from(["bom", "nul", "crlf", "merge", "binary", "duplicate", "tabs"]))
        return {
            "bom": "\ufeff" + base,
            "nul": base.replace("timezone:", "timezone:\x00", 1),
            "crlf": base.replace("\n", "\r\n"),
            "merge": base + "\nextra: &e {a: 1}\nmore:\n  <<: *e\n",
            "binary": "\x89PNG\r\n\x1a\n\x00\x00" + base[:200],
            "duplicate": base + "\nrulebook: again\n",
            "tabs": base.replace("  ", "\t", 3),
        }[mangle]
    candidates = [index for index, line in enumerate(lines) if ":" in line and not line.lstrip().startswith("#")]
    index = draw(st.sampled_from(candidates))
    key = lines[index].split(":", 1)[0]
    value = draw(
        st.one_of(
            st.sampled_from(YAML_TAGS),
            st.sampled_from(
                EXTREME_INSTANTS
                + NUMBERS_AS_TEXT
                + [
                    "P99999999Y",
                    "P0D",
                    "-P1Y",
                    "PT1H",
                    "P1.5Y",
                    "Etc/GMT+14",
                    "../../etc/passwd",
                    "-0.0",
                    "1e308",
                    ".inf",
                    "~",
                ]
            ),
            hostile_text().map(json.dumps),
        )
    )
    lines[index] = f"{key}: {value}"
    return "\n".join(lines) + "\n"


CSV_COLUMNS = ["subject", "behaviour", "at", "source", "id", "kind", "evidence", "confidence"]


@st.composite
def hostile_csv(draw: st.DrawFn) -> bytes:
    """A records CSV: a BOM or not, CRLF or LF, every quoting style, embedded newlines and quotes,
    hostile cells, a field longer than the csv module's limit, unbalanced quotes, bad UTF-8."""
    columns = draw(st.permutations(CSV_COLUMNS).map(lambda names: names[: draw(st.integers(3, len(names)))]))
    valid = {
        "subject": "p-fuzz",
        "behaviour": "fraud",
        "at": "2024-03-01",
        "source": "court",
        "id": "f-1",
        "kind": "person",
        "evidence": "",
        "confidence": "",
    }
    cell = st.one_of(
        hostile_text(("p-fuzz", "fraud", "2024-03-01", "court", "f-1", "person")),
        hostile_numbers().map(str),
        instants_text(),
        st.sampled_from(['a "quoted" value', "line\nbreak", "cr\rhere", '"', '""', ",", "x" * 131_073]),
    )
    rows = [
        [valid[name] if draw(st.booleans()) else draw(cell) for name in columns] for _ in range(draw(st.integers(0, 4)))
    ]
    buffer = io.StringIO()
    terminator = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    writer = csv.writer(buffer, lineterminator=terminator, quoting=quoting)
    writer.writerow(columns)
    writer.writerows(rows)
    text = buffer.getvalue()
    if draw(st.booleans()):
        text = "\ufeff" + text
    if draw(st.integers(0, 5)) == 0:
        text = text.replace('"', "", 1)  # an unbalanced quote
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 7)) == 0:
        data += b"\xff\xfe bad utf-8\n"
    return data


@st.composite
def hostile_json_lines(draw: st.DrawFn) -> bytes:
    """Records as JSON Lines whose fields hold the wrong types (objects, bools, floats) or hostile
    values; sometimes a line that is not JSON, or a deep one."""
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        row: dict[str, Any] = {
            "subject": "p-fuzz",
            "behaviour": "fraud",
            "at": "2024-03-01",
            "source": "court",
            "id": f"j-{len(lines)}",
        }
        for name in draw(st.lists(st.sampled_from(CSV_COLUMNS), max_size=3, unique=True)):
            row[name] = draw(json_values(max_leaves=3))
        lines.append(json.dumps(row, ensure_ascii=draw(st.booleans())))
    if draw(st.integers(0, 4)) == 0:
        lines.append(draw(st.sampled_from(["{", "[]", "null", '{"subject": NaN}', "[" * 5000 + "]" * 5000])))
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def clean(value: str) -> bool:
    """An identifier as the ledger should store it: stripped, and without control, format or
    surrogate characters (NUL cannot be stored by PostgreSQL at all)."""
    return (
        value == value.strip() and value != "" and not any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in value)
    )


def fuzz_settings(examples: int) -> settings:
    """The fuzzer's budget: `examples` in `make test`; CREDO_FUZZ=long (or HYPOTHESIS_PROFILE=fuzz-long)
    multiplies it by 100 for a long run. No deadline (a slow example is timed by the test itself).
    CREDO_FUZZ=generated skips the explicit examples (the cases the probes found), to see what
    generation alone finds while those still fail."""
    mode = os.environ.get("CREDO_FUZZ", "")
    long = mode == "long" or os.environ.get("HYPOTHESIS_PROFILE") == "fuzz-long"
    # Short runs are derandomized (`make test` tries the same examples every time) and do not
    # shrink (shrinking a hostile example through a service can take minutes): a failure shows
    # the example as found, with the test's notes. Long runs shrink to a minimal example.
    phases = list(Phase) if long else [Phase.explicit, Phase.reuse, Phase.generate]
    if mode == "generated":
        phases.remove(Phase.explicit)
    return settings(
        max_examples=examples * (100 if long else 1),
        deadline=None,
        derandomize=not long,
        suppress_health_check=list(HealthCheck),
        phases=phases,
    )
