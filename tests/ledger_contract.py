"""The contract every store passes, written once. A backend's test module only says how to make
a store URL (the `store_url` fixture)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from credo.errors import RecordError
from credo.ledger.book import Ledger, LedgerError
from credo.ledger.chain import micros
from credo.ledger.files import read_records
from credo.rules import load_rulebook
from credo.semantics import evaluate_all
from credo.storage import SqlStore, open_store
from credo.storage.schema import metadata
from credo.storage.sql import MIGRATIONS
from tests.conftest import SCENARIOS
from tests.stores import initialised

ARTICLE = SCENARIOS / "article" / "rulebook.yaml"
EXAMPLE = SCENARIOS / "article" / "example-ledger.csv"
NOW = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)


class Clock:
    def __init__(self, now: dt.datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def write_csv(folder: Path, rows: list[str], name: str = "records.csv") -> Path:
    path = folder / name
    path.write_text("subject,behaviour,at,source,id,kind,confidence\n" + "\n".join(rows) + "\n")
    return path


class LedgerContract:
    """Subclasses provide the `store_url` fixture."""

    @pytest.fixture
    def store(self, store_url: str) -> SqlStore:
        store = initialised(store_url)
        yield store  # type: ignore[misc]
        store.close()

    @pytest.fixture
    def clock(self) -> Clock:
        return Clock()

    @pytest.fixture
    def ledger(self, store: SqlStore, clock: Clock) -> Ledger:
        ledger = Ledger(store, clock)
        clock.now = dt.datetime(2018, 12, 1, tzinfo=dt.UTC)  # published before it took effect
        ledger.publish(ARTICLE, "2019-01-01")
        clock.now = NOW
        return ledger

    def count(self, store: SqlStore) -> int:
        with store.engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM records")).scalar_one())

    def test_a_ledger_written_by_an_older_credo_opens_upgraded(self, store_url: str, tmp_path: Path) -> None:
        old = open_store(store_url)
        old.migrate()
        ledger = Ledger(old, Clock(dt.datetime(2018, 12, 1, tzinfo=dt.UTC)))
        ledger.publish(ARTICLE, "2019-01-01")
        Ledger(old, Clock()).ingest(EXAMPLE, notify=False)  # an older credo had no outbox to owe in
        # Back to the first release's schema (records, corrections, rulebook versions): this
        # credo's writes need the later tables (pending_files), so the old ledger is written
        # first, then cut back.
        with old.engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):
                if table.name not in ("records", "corrections", "rulebook_versions"):
                    connection.execute(text(f"DROP TABLE {table.name}"))
            connection.execute(text("UPDATE alembic_version SET version_num = '0001'"))
        assert old.revision() == "0001"
        old.close()
        newer = open_store(store_url)
        newer.require_ledger()
        assert newer.revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()
        assert newer.verify().ok and newer.verify().entries == 107
        assert newer.notices("p-zhang-wei") == []  # the later tables are there
        newer.close()

    def test_init_is_idempotent_and_at_head(self, store: SqlStore) -> None:
        store.migrate()
        store.require_ledger()
        assert store.initialised()

    def test_ingest_twice_stores_once_with_the_same_receipts(self, ledger: Ledger, store: SqlStore) -> None:
        first = ledger.ingest(EXAMPLE)
        assert (first.accepted, first.duplicates, first.rejected) == (106, 0, 0)
        assert (first.first_position, first.last_position) == (2, 107)
        again = ledger.ingest(EXAMPLE)
        assert (again.accepted, again.duplicates, again.first_position) == (0, 106, None)
        assert self.count(store) == 106
        assert store.verify().ok and store.verify().entries == 107

    def test_a_bad_row_refuses_the_whole_file(self, ledger: Ledger, store: SqlStore, tmp_path: Path) -> None:
        path = write_csv(
            tmp_path,
            ["a,fraud,2024-01-01,court,1,,", "b,fraud,2024-01-02,court,2,,", "c,teleporting,2024-01-03,court,3,,"],
        )
        with pytest.raises(RecordError) as caught:
            ledger.ingest(path, batch_size=1)
        assert caught.value.line == 4 and caught.value.field == "behaviour"
        assert self.count(store) == 0
        assert store.verify().entries == 1

    def test_skip_invalid_lands_the_good_rows_and_reports_the_bad(
        self, ledger: Ledger, store: SqlStore, tmp_path: Path
    ) -> None:
        path = write_csv(
            tmp_path,
            [
                "a,fraud,2024-01-01,court,1,,",
                "b,fraud,not-a-date,court,2,,",
                "c,fraud,2024-01-03,bank,3,,",  # a bank may not report fraud
                "d,fraud,2030-01-01,court,4,,",  # the future
                "e,fraud,2024-01-05,court,,,",  # no id
                "f,fraud,2024-01-06,court,6,robot,",
            ],
        )
        report = tmp_path / "bad.csv"
        summary = ledger.ingest(path, skip_invalid=True, report=report)
        assert (summary.accepted, summary.rejected) == (1, 5)
        lines = report.read_text().splitlines()
        assert lines[0] == "file,line,field,reason"
        assert [line.split(",")[1:3] for line in lines[1:]] == [
            ["3", "at"], ["4", "source"], ["5", "at"], ["6", "id"], ["7", "kind"],
        ]  # fmt: skip
        assert self.count(store) == 1

    def test_same_id_with_other_content_is_a_conflict(self, ledger: Ledger, tmp_path: Path) -> None:
        ledger.ingest(write_csv(tmp_path, ["a,fraud,2024-01-01,court,1,,"]))
        with pytest.raises(RecordError, match="different content"):
            ledger.ingest(write_csv(tmp_path, ["a,fraud,2024-02-01,court,1,,"], "again.csv"))

    def test_no_rulebook_no_ingest(self, store: SqlStore, clock: Clock) -> None:
        with pytest.raises(LedgerError, match="no rulebook is published"):
            Ledger(store, clock).ingest(EXAMPLE)

    def test_parquet_and_json_lines(self, ledger: Ledger, tmp_path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({"subject": ["a", "b"], "behaviour": ["fraud", "fraud"], "at": ["2024-01-01", "2024-01-02"],
                          "source": ["court", "court"], "id": ["p1", "p2"]})  # fmt: skip
        pq.write_table(table, tmp_path / "records.parquet")
        assert ledger.ingest(tmp_path / "records.parquet").accepted == 2
        lines = tmp_path / "records.jsonl"
        lines.write_text(json.dumps({"subject": "c", "behaviour": "fraud", "at": "2024-01-03", "source": "court",
                                     "id": "j1"}) + "\n")  # fmt: skip
        assert ledger.ingest(lines).accepted == 1

    def test_store_answers_equal_file_mode(self, ledger: Ledger) -> None:
        ledger.ingest(EXAMPLE)
        at = dt.datetime(2025, 6, 1, tzinfo=dt.UTC)
        rulebook = load_rulebook(ARTICLE)
        from_files = {
            subject: state for subject, state in evaluate_all(rulebook, read_records(EXAMPLE, rulebook), at).items()
        }
        from_store = {state.subject: state for state in ledger.states(at)}
        assert set(from_store) == set(from_files)
        for subject, state in from_files.items():
            assert from_store[subject].summary() == state.summary()
            for action in rulebook.actions:
                assert from_store[subject].decide(action).decision == state.decide(action).decision

    def test_corrections_reverse_suspend_reinstate(self, ledger: Ledger, tmp_path: Path, clock: Clock) -> None:
        ledger.ingest(write_csv(tmp_path, ["a,fraud,2024-01-01,court,1,,", "a,bank_arrears,2024-02-01,bank,2,,"]))
        at = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
        assert ledger.state("a", at).score("citizen") == 940
        ledger.correct("court:1", "suspend", "under appeal", "reviewer-1")
        assert ledger.state("a", at).score("citizen") == 990
        ledger.correct("3", "reverse", "bank error", "reviewer-1")  # position 1 is the rulebook
        assert ledger.state("a", at).score("citizen") == 1000
        ledger.correct("court:1", "reinstate", "appeal dismissed", "reviewer-2")
        assert ledger.state("a", at).score("citizen") == 950
        with pytest.raises(RecordError, match="no record"):
            ledger.correct("court:404", "reverse", "x", "y")

    def test_bitemporal_as_known_at(self, ledger: Ledger, tmp_path: Path, clock: Clock) -> None:
        at = dt.datetime(2024, 6, 1, tzinfo=dt.UTC)
        clock.now = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
        ledger.ingest(write_csv(tmp_path, ["a,fraud,2024-01-01,court,1,,"]))
        clock.now = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
        ledger.ingest(write_csv(tmp_path, ["a,bank_arrears,2024-01-15,bank,2,,"], "late.csv"))
        clock.now = dt.datetime(2024, 5, 15, tzinfo=dt.UTC)
        ledger.correct("court:1", "reverse", "quashed", "court")
        assert ledger.state("a", at, known_at=dt.datetime(2024, 4, 1, tzinfo=dt.UTC)).score("citizen") == 950
        assert ledger.state("a", at, known_at=dt.datetime(2024, 5, 2, tzinfo=dt.UTC)).score("citizen") == 940
        assert ledger.state("a", at).score("citizen") == 990
        assert ledger.state("a", at, known_at=dt.datetime(2024, 2, 1, tzinfo=dt.UTC)).score("citizen") == 1000

    def test_entries_are_stamped_in_the_order_they_commit(
        self, ledger: Ledger, store: SqlStore, tmp_path: Path
    ) -> None:
        """A writer whose clock is read, that is then descheduled while another writer commits,
        must not stamp its entry as known before the one it follows (before: the stamp was the
        clock read before the append lock, so the later entry looked known first, and "as known
        at" answered with it but without the entry before it)."""
        ticks = itertools.count()
        first_read, other_done = threading.Event(), threading.Event()

        def shared() -> dt.datetime:  # one clock for both writers, a second on at each reading
            return NOW + dt.timedelta(seconds=next(ticks))

        def slow() -> dt.datetime:
            now = shared()
            if not first_read.is_set():
                first_read.set()
                other_done.wait(timeout=2.0)  # descheduled; a stamp read under the lock makes the other wait
            return now

        slow_file = write_csv(tmp_path, ["a,fraud,2024-01-01,court,1,,"], "slow.csv")
        other_file = write_csv(tmp_path, ["b,fraud,2024-01-01,court,2,,"], "other.csv")
        with ThreadPoolExecutor(1) as pool:
            slow_ingest = pool.submit(Ledger(store, slow).ingest, slow_file)
            assert first_read.wait(timeout=10)
            Ledger(store, shared).ingest(other_file)
            Ledger(store, shared).correct("court:2", "suspend", "under appeal", "reviewer")
            other_done.set()
            slow_ingest.result()
        Ledger(store, shared).correct("court:1", "confirm", "checked", "reviewer")
        entries = sorted([(r.position, r.recorded_us) for r in store.records()]
                         + [(c.position, c.recorded_us) for c in store.corrections()])  # fmt: skip
        stamps = [stamp for _, stamp in entries]
        assert stamps == sorted(stamps), entries

    def test_a_clock_set_back_does_not_stamp_an_entry_before_the_one_it_follows(
        self, ledger: Ledger, store: SqlStore, clock: Clock, tmp_path: Path
    ) -> None:
        """The machine's clock stepped back an hour (NTP at boot, an operator): what is appended
        next is stamped as the entry before it, not an hour earlier, so "as known at" still
        never answers with a later entry and without an earlier one."""
        ledger.ingest(write_csv(tmp_path, ["a,fraud,2024-01-01,court,1,,"]))
        clock.now = NOW - dt.timedelta(hours=1)
        ledger.ingest(write_csv(tmp_path, ["b,fraud,2024-01-01,court,2,,"], "later.csv"))
        ledger.correct("court:1", "suspend", "under appeal", "reviewer")
        stamps = [record.recorded_us for record in store.records()] + [fix.recorded_us for fix in store.corrections()]
        assert stamps == [micros(NOW)] * 3
        clock.now = NOW + dt.timedelta(hours=1)  # and once the clock is ahead again, its own time
        ledger.ingest(write_csv(tmp_path, ["c,fraud,2024-01-01,court,3,,"], "last.csv"))
        assert store.records()[-1].recorded_us == micros(clock.now)

    def test_records_are_scored_by_the_version_in_force_when_they_happened(
        self, ledger: Ledger, tmp_path: Path, clock: Clock
    ) -> None:
        harsher = tmp_path / "rulebook.yaml"
        text = ARTICLE.read_text().replace("fraud: {points: -50,", "fraud: {points: -80,")
        harsher.write_text(text.replace('version: "2019.1"', 'version: "2024.1"'))
        with pytest.raises(LedgerError, match="--retroactive"):
            ledger.publish(harsher, "2024-06-01")
        clock.now = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
        ledger.publish(harsher, "2024-06-01")
        clock.now = NOW
        ledger.ingest(write_csv(tmp_path, ["a,fraud,2024-05-20,court,1,,", "a,fraud,2024-06-20,court,2,,"]))
        assert ledger.state("a", dt.datetime(2024, 7, 1, tzinfo=dt.UTC)).score("citizen") == 1000 - 50 - 80

    def test_automated_records_wait_for_confirmation(self, ledger: Ledger, tmp_path: Path) -> None:
        path = write_csv(tmp_path, ["a,dangerous_driving,2024-01-01,traffic_camera,c1,,0.99"])
        ledger.ingest(path)
        at = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
        assert ledger.state("a", at).score("citizen") == 1000
        ledger.correct("traffic_camera:c1", "confirm", "officer checked the plate", "officer-7")
        assert ledger.state("a", at).score("citizen") == 995

    def test_verify_names_an_edited_row(self, ledger: Ledger, store: SqlStore) -> None:
        ledger.ingest(EXAMPLE)
        self.tamper(store, "UPDATE records SET behaviour = 'charity_donation' WHERE position = 40")
        report = store.verify()
        assert not report.ok and report.first_bad == 40 and "altered" in (report.problem or "")

    def test_verify_names_a_deleted_row(self, ledger: Ledger, store: SqlStore) -> None:
        ledger.ingest(EXAMPLE)
        self.tamper(store, "DELETE FROM records WHERE position = 17")
        report = store.verify()
        assert not report.ok and report.first_bad == 17 and "missing" in (report.problem or "")

    def test_verify_names_an_inserted_row(self, ledger: Ledger, store: SqlStore) -> None:
        ledger.ingest(EXAMPLE)
        self.tamper(
            store,
            "INSERT INTO records (position, hash, subject, subject_kind, behaviour, at_us, source, source_id, "
            "recorded_us, pending) VALUES (108, 'f00d', 'x', 'person', 'fraud', 0, 'court', 'forged', 0, false)",
        )
        report = store.verify()
        assert not report.ok and report.first_bad == 108

    def test_verify_names_a_row_inserted_in_the_middle(self, ledger: Ledger, store: SqlStore) -> None:
        ledger.ingest(EXAMPLE)
        self.tamper(store, "INSERT INTO corrections VALUES (50, 'f00d', 3, 'reverse', 'x', 'y', 0)")
        report = store.verify()
        assert not report.ok and report.first_bad == 50

    def tamper(self, store: SqlStore, statement: str) -> None:
        """Change the database behind credo's back, with plain SQL."""
        with store.engine.connect() as connection:
            connection.execute(text(statement))
            connection.commit()
