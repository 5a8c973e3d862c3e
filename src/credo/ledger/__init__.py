"""Records and how they arrive: files now, the append-only store later."""

from credo.ledger.files import check_rows, read_records, record_from_row

__all__ = ["check_rows", "read_records", "record_from_row"]
