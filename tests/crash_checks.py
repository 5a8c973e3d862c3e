"""What the crash harness checks in the store once the server has stopped (issue 13 item 7).

What today's code can be held to, and what needs the notices outbox (issue 13 item 6):
- receipts, decision ids, appeals and resolutions acknowledged by a 200 are each stored exactly
  once, as acknowledged (the ledger's transactions give this today);
- no record has two appeals open at once, and no appeal has two outcomes (item 4);
- `credo verify` and store.verify() pass;
- no notice is doubled: no two notices of one subject with the same kind and body;
- no notice is missing: every write (a batch, a correction) that put a subject on a black list,
  recomputed from the final ledger, has a notice of that subject naming the list (its key or
  its description) within `window_s` of the write; every resolved appeal has exactly one notice
  naming the appeal's id after its resolution. A kill between a write's commit and its notice
  loses the notice today, and a batch sent again comes back as duplicates without one; only an
  outbox written in the write's own transaction makes these hold.
- leaving a list (good news, item 5) is counted; it fails the run only with require_good_news.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from credo.ledger.book import Ledger
from credo.ledger.chain import from_micros
from credo.ledger.model import Correction, StoredRecord, counting
from credo.semantics import NoRulebookInForce, SubjectState
from credo.storage import SqlStore, open_store
from tests.service_process import verify_cli


@dataclass
class Acknowledged:
    receipts: dict[str, tuple[int, str]] = field(default_factory=dict)  # "SOURCE:ID" -> (position, subject)
    moved: list[str] = field(default_factory=list)  # acknowledged again at another position
    decisions: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (subject, action)
    appeals: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (subject, record ref)
    resolutions: dict[str, list[str]] = field(default_factory=dict)  # appeal id -> outcomes answered 200

    def receipt(self, ref: str, position: int, subject: str) -> None:
        if ref in self.receipts and self.receipts[ref][0] != position:
            self.moved.append(ref)
        self.receipts.setdefault(ref, (position, subject))


def _mentions(notice: dict[str, Any], word: str) -> bool:
    return word in notice["text"]


def _count(store: SqlStore, sql: str) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar_one())


def owed_count(url: str) -> int:
    """Outbox entries not yet delivered: notices owed, not lost (a server delivers them)."""
    store = open_store(url)
    try:
        return _count(store, "SELECT COUNT(*) FROM outbox WHERE id NOT IN (SELECT outbox_id FROM outbox_delivered)")
    finally:
        store.close()


def check_records(store: SqlStore, acked: Acknowledged, lost: Iterable[dict[str, Any]]) -> dict[str, int]:
    stored = Counter(record.id for record in store.records())
    position = {record.id: record.position for record in store.records()}
    sent = {f"court:{row['id']}" for body in lost for row in body["records"]} | set(acked.receipts)
    return {
        "lost_receipts": sum(ref not in stored for ref in acked.receipts),
        "moved_receipts": len(acked.moved)
        + sum(ref in position and position[ref] != at for ref, (at, _) in acked.receipts.items()),
        "records_stored_twice": sum(count > 1 for count in stored.values()),
        "records_never_sent": sum(ref not in sent for ref in stored),
    }


def check_decisions(store: SqlStore, acked: Acknowledged) -> dict[str, int]:
    lost = wrong = 0
    for decision_id, (subject, action) in acked.decisions.items():
        found = store.decision(decision_id)
        lost += found is None
        wrong += found is not None and (found.subject, found.action) != (subject, action)
    duplicated = _count(store, "SELECT COUNT(*) - COUNT(DISTINCT id) FROM decisions")
    return {"lost_decisions": lost, "wrong_decisions": wrong, "decisions_stored_twice": duplicated}


def check_appeals(store: SqlStore, acked: Acknowledged) -> dict[str, int]:
    appeals = {appeal.id: appeal for appeal in store.appeals()}
    reversed_at: dict[int, int] = {}  # record position -> when it was first reversed
    for correction in store.corrections():
        if correction.action == "reverse":
            reversed_at.setdefault(correction.record_position, correction.recorded_us)
    lost = wrong = two_outcomes = wrong_outcome = twice_acked = upheld_but_reversed = 0
    for appeal_id, (_, ref) in acked.appeals.items():
        found = appeals.get(appeal_id)
        lost += found is None
        position = acked.receipts.get(ref, (None, ""))[0]
        wrong += found is not None and found.record_position != position
    for appeal_id, outcomes in acked.resolutions.items():
        twice_acked += len(outcomes) > 1
        found = appeals.get(appeal_id)
        wrong_outcome += found is None or found.outcome != outcomes[0]
    for appeal in appeals.values():
        two_outcomes += {"uphold", "reverse"} <= set(appeal.events)
        if appeal.outcome == "uphold" and "reverse" not in appeal.events:  # upheld after the record was reversed
            upheld_but_reversed += appeal.events["uphold"]["at_us"] > reversed_at.get(appeal.record_position, 1 << 62)
    return {
        "lost_appeals": lost,
        "appeals_on_wrong_record": wrong,
        "resolutions_acknowledged_twice": twice_acked,
        "resolutions_not_as_acknowledged": wrong_outcome,
        "appeals_with_two_outcomes": two_outcomes,
        "appeals_upheld_on_reversed_records": upheld_but_reversed,
        "records_with_two_open_appeals": _overlapping(appeals.values()),
    }


def _overlapping(appeals: Iterable[Any]) -> int:
    """Records on which an appeal was filed while another was still open."""
    by_record: dict[int, list[Any]] = {}
    for appeal in appeals:
        by_record.setdefault(appeal.record_position, []).append(appeal)
    found = 0
    for group in by_record.values():
        group.sort(key=lambda appeal: appeal.filed_us)
        found += any(_open_at(earlier, later.filed_us) for earlier, later in itertools.pairwise(group))
    return found


def _open_at(appeal: Any, instant_us: int) -> bool:
    closed = min((event["at_us"] for event in appeal.events.values()), default=None)
    return closed is None or closed > instant_us


class Replay:
    """A subject's state as of any ledger position, from the ledger read once (the run publishes
    no rulebook version after the first, so one history serves every position)."""

    def __init__(self, store: SqlStore) -> None:
        self.history = Ledger(store).history()
        self.records: dict[str, list[StoredRecord]] = {}
        for record in store.records():
            self.records.setdefault(record.subject, []).append(record)
        self.subject_of = {r.position: r.subject for own in self.records.values() for r in own}
        self.corrections: dict[str, list[Correction]] = {}
        for correction in store.corrections():
            self.corrections.setdefault(self.subject_of[correction.record_position], []).append(correction)

    def state(self, subject: str, at: dt.datetime, upto: int) -> SubjectState:
        records, fixes = self.records.get(subject, []), self.corrections.get(subject, [])
        own = records[: bisect_right(records, upto, key=lambda record: record.position)]
        fixes = fixes[: bisect_right(fixes, upto, key=lambda fix: fix.position)]
        return self.history.evaluate([record.as_record() for record in counting(own, fixes)], subject, at)


def list_changes(store: SqlStore) -> list[tuple[str, int, str, str]]:
    """(subject, instant in µs, list, "entered" | "left") for each write that changed a subject's
    black lists, recomputed from the final ledger: a batch is the records sharing one
    recorded_us (one request's transaction), a correction is its own write."""
    replay = Replay(store)
    writes: dict[int, tuple[int, int, set[str]]] = {}
    for own in replay.records.values():
        for record in own:
            low, high, subjects = writes.get(record.recorded_us, (record.position, record.position, set()))
            writes[record.recorded_us] = (
                min(low, record.position),
                max(high, record.position),
                subjects | {record.subject},
            )
    events = [(recorded, low, high, subjects) for recorded, (low, high, subjects) in writes.items()]
    events += [
        (fix.recorded_us, fix.position, fix.position, {subject})
        for subject, fixes in replay.corrections.items()
        for fix in fixes
    ]
    per_subject: dict[str, list[tuple[int, int, int]]] = {}
    for recorded, low, high, subjects in events:
        for subject in subjects:
            per_subject.setdefault(subject, []).append((low, high, recorded))
    found = []
    for subject, own_writes in sorted(per_subject.items()):
        found += _changes_of(replay, subject, sorted(own_writes))
    return sorted(found, key=lambda change: (change[1], change[0]))


def _changes_of(replay: Replay, subject: str, writes: list[tuple[int, int, int]]) -> list[tuple[str, int, str, str]]:
    """One subject's list changes, write by write in ledger order. The state before a write is
    the state after the subject's previous write, unless time alone could have changed it in
    between (its next_change, the invariant the service's cache rests on): so most writes cost
    one evaluation, not two, and a long run's check stays within minutes."""
    found = []
    previous: SubjectState | None = None
    for low, high, recorded in writes:
        at = from_micros(recorded)
        try:
            if previous is not None and _holds(previous, at):
                before = previous
            else:
                before = replay.state(subject, at, upto=low - 1)
            after = replay.state(subject, at, upto=high)
        except NoRulebookInForce:
            previous = None
            continue
        black = {name for name, spec in after.rulebook.lists.items() if spec.kind == "black"}
        was, now = set(before.lists()) & black, set(after.lists()) & black
        found += [(subject, recorded, name, "entered") for name in sorted(now - was)]
        found += [(subject, recorded, name, "left") for name in sorted(was - now)]
        previous = after
    return found


def _holds(state: SubjectState, at: dt.datetime) -> bool:
    """Whether the state evaluated at state.at still holds at the later instant `at`."""
    change = state.next_change(state.at)
    return state.at <= at and (change is None or change > at)


def check_notices(store: SqlStore, acked: Acknowledged, window_s: float) -> dict[str, int]:
    subjects = {subject for _, subject in acked.receipts.values()} | {s for s, _ in acked.appeals.values()}
    notices = {
        subject: [{"id": n.id, "subject": n.subject, "kind": n.kind, **n.body} for n in store.notices(subject)]
        for subject in sorted(subjects)
    }
    for own in notices.values():  # each notice's words, encoded once (a long run has thousands)
        for notice in own:
            notice["text"] = json.dumps(notice, ensure_ascii=False)
    doubled = 0
    for own in notices.values():
        said = ({k: v for k, v in n.items() if k not in ("id", "text")} for n in own)
        contents = Counter(json.dumps(body, sort_keys=True) for body in said)
        doubled += sum(count - 1 for count in contents.values())
    created = _created(store)
    missing = {"entered": 0, "left": 0}
    used: set[str] = set()
    window = int(window_s * 1_000_000)
    names = _list_names(store)
    for subject, recorded, name, change in list_changes(store):
        match = next(
            (
                n
                for n in notices.get(subject, [])
                if n["id"] not in used
                and any(_mentions(n, word) for word in names.get(name, (name,)))
                and recorded - 2_000_000 <= created.get(n["id"], 0) <= recorded + window
            ),
            None,
        )
        if match is None:
            missing[change] += 1
        else:
            used.add(match["id"])
    resolution_notices: Counter[str] = Counter()
    for appeal in store.appeals():
        if appeal.outcome is None:
            continue
        resolved = appeal.events[appeal.outcome]["at_us"]
        told = [
            n
            for n in notices.get(appeal.subject, [])
            if _mentions(n, appeal.id) and created.get(n["id"], 0) >= resolved - 2_000_000
        ]
        resolution_notices[min(len(told), 2)] += 1
    return {
        "notices_doubled": doubled,
        "black_list_entries_without_notice": missing["entered"],
        "resolved_appeals_without_notice": resolution_notices[0],
        "resolved_appeals_with_two_notices": resolution_notices[2],
        "list_exits_without_notice": missing["left"],
    }


def _list_names(store: SqlStore) -> dict[str, tuple[str, ...]]:
    """How a notice may name each list: its key, or its description (plain words)."""
    ledger = Ledger(store)
    named: dict[str, tuple[str, ...]] = {}
    for version in ledger.history().versions:
        for key, spec in version.rulebook.lists.items():
            named[key] = tuple(word for word in (key, spec.description) if word)
    return named


def _created(store: SqlStore) -> dict[str, int]:
    with store.engine.connect() as connection:
        return {row[0]: int(row[1]) for row in connection.execute(text("SELECT id, created_us FROM notices"))}


def check(
    url: str,
    acked: Acknowledged,
    lost: list[dict[str, Any]],
    *,
    require_good_news: bool = False,
    window_s: float = 30.0,
) -> dict[str, Any]:
    """Every check, as {"acknowledged", "stored", "violations", "informational", "verify", "ok"}."""
    store = open_store(url)
    try:
        violations = {
            **check_records(store, acked, lost),
            **check_decisions(store, acked),
            **check_appeals(store, acked),
            **check_notices(store, acked, window_s),
        }
        informational = {"list_exits_without_notice": violations.pop("list_exits_without_notice")}
        if require_good_news:
            violations.update(informational)
        report = store.verify()
        stored = {
            table: _count(store, f"SELECT COUNT(*) FROM {table}")
            for table in ("records", "corrections", "decisions", "appeals", "appeal_events", "notices")
        }
    finally:
        store.close()
    cli = verify_cli(url)
    return {
        "acknowledged": {
            "receipts": len(acked.receipts),
            "decisions": len(acked.decisions),
            "appeals": len(acked.appeals),
            "resolutions": sum(len(outcomes) for outcomes in acked.resolutions.values()),
        },
        "stored": stored,
        "violations": violations,
        "informational": informational,
        "verify": {"ok": report.ok, "entries": report.entries, "problem": report.problem, "cli_exit": cli},
        "ok": report.ok and cli == 0 and not any(violations.values()),
    }
