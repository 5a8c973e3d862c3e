"""The one autoescaping Jinja2 environment of credo's pages and reports.

The templates live with the web (credo/web/templates): the service's pages and the simulator's
report.html and compare.html extend the same base layout and read the same stylesheet. The
environment needs nothing but Jinja2, so that `credo simulate` renders its report without the
service; every value that reaches a template (a rulebook's names and details, a spec's labels)
is escaped.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

WEB = Path(__file__).parent / "web"
TEMPLATES = WEB / "templates"
STYLESHEET = WEB / "static" / "credo.css"


def count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def percent(value: float) -> str:
    return f"{100 * value:.3g}%"


def per_million(value: float) -> str:
    """A figure per million in whole numbers (5,050, not 5,050.0); under ten, two significant digits."""
    if value >= 10:
        return f"{value:,.0f}"
    return f"{value:.2g}" if value else "0"


@cache
def stylesheet() -> str:
    """credo.css, for a report opened from disk (it links nothing: the file works offline)."""
    return STYLESHEET.read_text(encoding="utf-8")


@cache
def environment() -> Environment:
    templates = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "xml"], default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    templates.filters.update(count=count, percent=percent, per_million=per_million)
    templates.globals.update(stylesheet=stylesheet)
    return templates
