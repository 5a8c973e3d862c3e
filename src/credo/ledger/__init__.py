"""Records and how they arrive: from files (file mode) and into the append-only ledger (store mode)."""

from credo.ledger.book import IngestSummary, Ledger, LedgerError, LedgerStore
from credo.ledger.chain import ChainReport, verify_chain
from credo.ledger.files import check_rows, read_records, record_from_row
from credo.ledger.model import CORRECTION_ACTIONS, Correction, Incoming, Receipt, StoredRecord, StoredVersion

__all__ = [
    "CORRECTION_ACTIONS",
    "ChainReport",
    "Correction",
    "Incoming",
    "IngestSummary",
    "Ledger",
    "LedgerError",
    "LedgerStore",
    "Receipt",
    "StoredRecord",
    "StoredVersion",
    "check_rows",
    "read_records",
    "record_from_row",
    "verify_chain",
]
