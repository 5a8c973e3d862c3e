"""JUnit XML of the YAML rulebook tests, for CI systems that show test results (`credo test --junit`)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

from credo.testing.runner import CaseResult


def junit_xml(results: Sequence[CaseResult]) -> bytes:
    """One <testsuite> per test file, one <testcase> per case, a <failure> with every failed expectation."""
    suites = ET.Element("testsuites", name="credo", tests=str(len(results)),
                        failures=str(sum(not result.passed for result in results)))  # fmt: skip
    by_file: dict[str, list[CaseResult]] = {}
    for result in results:
        by_file.setdefault(result.file, []).append(result)
    for file, cases in by_file.items():
        suite = ET.SubElement(suites, "testsuite", name=file, tests=str(len(cases)),
                              failures=str(sum(not case.passed for case in cases)), errors="0")  # fmt: skip
        for case in cases:
            element = ET.SubElement(suite, "testcase", name=case.name, classname=Path(file).stem, file=file,
                                    line=str(case.line or 0))  # fmt: skip
            if not case.passed:
                failure = ET.SubElement(element, "failure", message=case.failures[0])
                failure.text = "\n".join(case.failures)
    ET.indent(suites)
    document: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return document + b"\n"
