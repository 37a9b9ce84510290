"""``paramedic report``: gather the report once, then write each rendering asked for."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console

from paramedic.catalog.duration import parse_duration
from paramedic.catalog.model import Catalog
from paramedic.errors import ParamedicError
from paramedic.report.html import render_html
from paramedic.report.markdown import render_markdown
from paramedic.report.model import build_report
from paramedic.report.terminal import render_summary
from paramedic.report.text import plural
from paramedic.store import Store


def parse_stale_after(text: str) -> timedelta:
    """``--stale-after``: a positive duration, or a one-line error naming the option."""
    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise ParamedicError(f"--stale-after {text!r}: {exc}") from None
    if value <= timedelta(0):
        raise ParamedicError(f"--stale-after {text!r}: must be longer than 0s, e.g. 30d")
    return value


def _write(option: str, path: str, text: str) -> None:
    target = Path(path)
    try:
        target.write_text(text, encoding="utf-8")
    except OSError as exc:
        why = (exc.strerror or str(exc)).lower()
        raise ParamedicError(
            f"{option} {path}: cannot write the report: {why}; pass a path in a writable folder"
        ) from exc


def run_report(
    catalog: Catalog,
    store: Store,
    now: datetime,
    console: Console,
    *,
    html: str | None = None,
    markdown: str | None = None,
    as_json: bool = False,
    stale_after: timedelta,
) -> None:
    """Build the report; write HTML/Markdown files, print JSON, or print the terminal summary."""
    report = build_report(catalog, store, now, stale_after=stale_after)
    if html is not None:
        _write("--html", html, render_html(report))
    if markdown is not None:
        _write("--markdown", markdown, render_markdown(report))
    if as_json:
        console.file.write(json.dumps(report.to_json(), indent=2) + "\n")
        return
    if html is None and markdown is None:
        render_summary(report, console)
        return
    written = [path for path in (html, markdown) if path is not None]
    summary = report.summary()
    console.print(
        f"report written to {' and '.join(written)}:"
        f" {plural(summary['components'], 'component')}, mean score {summary['mean_score']},"
        f" {plural(summary['risks'], 'open risk')}",
        markup=False,
    )
