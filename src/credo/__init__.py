"""credo: an open, accountable engine for points-based trust programs."""

from credo.errors import CredoError, InstantError, RecordError, RulebookError
from credo.ledger import read_records
from credo.rules import Rulebook, lint, lint_file, load_rulebook, loads_rulebook, parse_instant
from credo.semantics import Decision, Record, SubjectState, evaluate, evaluate_all, explain

__version__ = "0.1.0"

__all__ = [
    "CredoError",
    "Decision",
    "InstantError",
    "Record",
    "RecordError",
    "Rulebook",
    "RulebookError",
    "SubjectState",
    "__version__",
    "evaluate",
    "evaluate_all",
    "explain",
    "lint",
    "lint_file",
    "load_rulebook",
    "loads_rulebook",
    "parse_instant",
    "read_records",
]
