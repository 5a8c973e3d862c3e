"""The reference evaluator: DESIGN §4 stated as plainly as the prose, one subject at a time."""

from credo.semantics.explain import explain
from credo.semantics.lists import Interval
from credo.semantics.records import Record
from credo.semantics.state import Decision, MeasureResult, SubjectState, UnknownName, evaluate, evaluate_all
from credo.semantics.timeline import Entry, ProgramTimeline
from credo.semantics.versions import NoRulebookInForce, RulebookHistory, Version

__all__ = [
    "Decision",
    "Entry",
    "Interval",
    "MeasureResult",
    "NoRulebookInForce",
    "ProgramTimeline",
    "Record",
    "RulebookHistory",
    "SubjectState",
    "UnknownName",
    "Version",
    "evaluate",
    "evaluate_all",
    "explain",
]
