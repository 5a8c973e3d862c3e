"""Rulebook tests in YAML, run by `credo test` and collected by pytest."""

from credo.testing.runner import Case, CaseResult, load_cases, run_path

__all__ = ["Case", "CaseResult", "load_cases", "run_path"]
