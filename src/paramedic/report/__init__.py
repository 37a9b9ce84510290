"""Compliance reports: objectives against measured evidence, scores, strategies, gaps and risks.

``build_report`` gathers a typed ``Report`` from the catalog's plan and the
state store; ``render_html``, ``render_markdown`` and ``render_summary``
present it, and ``Report.to_json`` is ``paramedic report --json``.
"""

from paramedic.report.html import render_html
from paramedic.report.markdown import render_markdown
from paramedic.report.model import STALE_AFTER, ComponentReport, Report, Tally, build_report
from paramedic.report.terminal import render_summary

__all__ = [
    "STALE_AFTER",
    "ComponentReport",
    "Report",
    "Tally",
    "build_report",
    "render_html",
    "render_markdown",
    "render_summary",
]
