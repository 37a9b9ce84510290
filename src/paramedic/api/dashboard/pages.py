"""The dashboard's pages: overview, component, incident, report (server-rendered with Jinja2).

Every page reads through the same functions as the JSON endpoints, so the page and
``/api/v1`` never disagree. Pages are complete without JavaScript; the vendored
``dashboard.js`` follows ``/api/v1/events`` and re-renders ``<main>`` when a
decision concerns what the page shows, and sends the token for Approve/Deny.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from paramedic.api import routes_read
from paramedic.api.context import ApiContext
from paramedic.api.deps import context, require_read
from paramedic.catalog.duration import format_duration

HERE = Path(__file__).parent
GLYPH = {
    "healthy": "✔",
    "recovered": "✔",
    "succeeded": "✔",
    "failed": "✘",
    "escalated": "‼",
    "timed_out": "✘",
    "unverified": "✘",
    "denied": "✘",
    "suspect": "?",
    "recovering": "↻",
    "running": "↻",
    "awaiting_approval": "⚠",
    "blocked": "⏸",
    "open": "!",
}
FAILING = ("suspect", "failed", "recovering", "escalated", "blocked")

Ctx = Annotated[ApiContext, Depends(context)]
router = APIRouter(dependencies=[Depends(require_read)], include_in_schema=False)


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _ago(text: str | None) -> str:
    moment = _parse(text)
    if moment is None:
        return "–"
    return f"{format_duration(max(0.0, (datetime.now(UTC) - moment).total_seconds()))} ago"


def _dur(seconds: float | None) -> str:
    return "–" if seconds is None else format_duration(max(0.0, float(seconds)))


env = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(), auto_reload=False
)
env.globals.update(ago=_ago, dur=_dur, glyph=lambda s: GLYPH.get(s, "·"))


def _page(name: str, **values: Any) -> HTMLResponse:
    values.setdefault("scope", None)
    return HTMLResponse(env.get_template(name).render(**values))


@router.get("/", response_class=HTMLResponse)
def overview(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    """Open incidents first, then the components a page at a time, filterable by state."""
    chosen = state if state in routes_read.COMPONENT_STATES else None
    page = routes_read.components_page(ctx, limit, after, chosen)
    rows = ctx.store.components()
    measured: dict[str, tuple[float | None, float | None]] = {}
    for incident in ctx.store.incidents(limit=10_000):
        if incident.state == "recovered" and incident.component not in measured:
            measured[incident.component] = (incident.measured_rto_s, incident.measured_rpo_s)
    now = datetime.now(UTC)
    exposure: dict[str, float] = {}
    for point in ctx.store.recovery_points():
        age = (now - point.taken_at).total_seconds()
        exposure[point.component] = min(age, exposure.get(point.component, age))
    scores = ctx.metrics.scores(ctx.core.catalog, now) if ctx.metrics is not None else {}
    open_incidents = [i.to_json() for i in ctx.store.incidents(open_only=True, limit=1000)]
    return _page(
        "overview.html",
        title="Overview",
        components=page["components"],
        next=page["next"],
        limit=limit,
        filter_state=chosen,
        states=routes_read.COMPONENT_STATES,
        open_incidents=open_incidents,
        measured=measured,
        exposure=exposure,
        scores={k: f"{v:.0f}" for k, v in scores.items()},
        counts={
            "total": len(rows),
            "healthy": sum(1 for r in rows if r.state == "healthy"),
            "failing": sum(1 for r in rows if r.state in FAILING),
        },
    )


def _timeline(incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Bars of the newest incidents: failed → detected, then detected → recovered (or now)."""
    shown = incidents[:12]
    if not shown:
        return []
    now = datetime.now(UTC)
    spans = []
    for i in shown:
        failed, detected = _parse(i["failed_at"]), _parse(i["detected_at"])
        end = _parse(i["recovered_at"]) or _parse(i["escalated_at"]) or now
        assert failed is not None and detected is not None
        spans.append((i, (detected - failed).total_seconds(), (end - detected).total_seconds()))
    longest = max(d + r for _, d, r in spans) or 1.0
    scale = 600.0 / longest  # one scale for all bars: lengths compare at a glance
    return [
        {
            "id": i["id"],
            "label": i["failed_at"][5:19].replace("T", " "),
            "x0": 170,
            "w_detect": max(2.0, d * scale),
            "w_recover": max(2.0, r * scale),
            "detect_s": d,
            "recover_s": r,
            "state": i["state"],
            "open": i["open"],
            "rto_s": i["measured_rto_s"],
        }
        for i, d, r in spans
    ]


@router.get("/components/{name}", response_class=HTMLResponse)
def component_page(ctx: Ctx, name: str) -> HTMLResponse:
    """One component: its incident timeline, health changes, recovery points and drills."""
    detail = routes_read.component(ctx, name)
    drills = [d.to_json() for d in ctx.store.drills(name)[:20]]
    return _page(
        "component.html",
        title=name,
        scope=name,
        c=detail,
        timeline=_timeline(detail["incidents"]),
        drills=drills,
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(ctx: Ctx, incident_id: str) -> HTMLResponse:
    """One incident: timings, the approval waiting (Approve/Deny), steps, decisions."""
    detail = routes_read.incident(ctx, incident_id)
    return _page("incident.html", title=incident_id, scope=detail["component"], i=detail)


@router.get("/report", response_class=HTMLResponse)
def report_page(ctx: Ctx) -> HTMLResponse:
    """The compliance report, as ``paramedic report --html`` writes it."""
    from datetime import timedelta

    from paramedic.report.html import render_html
    from paramedic.report.model import build_report

    built = build_report(
        ctx.core.catalog, ctx.store, datetime.now(UTC), stale_after=timedelta(days=30)
    )
    return HTMLResponse(render_html(built))


def install(app: FastAPI) -> None:
    """Mount the dashboard's pages and its static files on ``app``."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")


__all__ = ["install"]
