"""The read endpoints: health, components, incidents, backups, drills, report.

Endpoints that touch the store are plain ``def``: FastAPI runs them in its thread
pool, so a slow query never holds up the agent's event loop (and its checks).
The two lists a dashboard polls (components, incidents) are coroutines that make
one trip to the pool for the whole answer instead: a plain ``def`` with a
response model makes a second trip to validate it, and each trip waits for the
agent's loop, busy with checks (bench/README.md, section (f)).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from paramedic.api import models
from paramedic.api.context import ApiContext
from paramedic.api.deps import context, require_read
from paramedic.api.errors import ApiError
from paramedic.backup import rpo_exposure
from paramedic.store import ComponentRow, IncidentRow, iso_utc

Ctx = Annotated[ApiContext, Depends(context)]
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
ComponentState = Literal[
    "unknown", "healthy", "suspect", "failed", "recovering", "escalated", "blocked"
]
COMPONENT_STATES = ("unknown", "healthy", "suspect", "failed", "recovering", "escalated", "blocked")
IncidentStateQ = Literal[
    "open", "recovering", "awaiting_approval", "blocked", "recovered", "escalated", "cancelled"
]

health = APIRouter(tags=["health"])
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": models.Error} for code in (400, 401, 404, 422)
}
router = APIRouter(
    prefix="/api/v1", dependencies=[Depends(require_read)], tags=["read"], responses=ERRORS
)


@health.get("/healthz", response_model=models.Health, responses={503: {"model": models.Health}})
async def healthz(ctx: Ctx) -> Any:
    """Liveness of the agent itself (no store access): 503 when its loops have stalled."""
    why = ctx.core.snapshot().stalled()
    if why is not None:
        return JSONResponse({"ok": False, "reason": why}, status_code=503)
    return {"ok": True, "reason": "the agent's loops run"}


@health.get("/readyz", response_model=models.Health, responses={503: {"model": models.Health}})
def readyz(ctx: Ctx) -> Any:
    """200 when the store answers and every component has had a first check."""
    try:
        rows = ctx.store.components()
    except Exception as exc:  # any store failure means not ready; the reason says which
        return JSONResponse({"ok": False, "reason": f"state store: {exc}"}, status_code=503)
    names = set(ctx.core.catalog.components)
    waiting = sorted(names - {r.name for r in rows if r.last_check_at is not None})
    if waiting:
        head = ", ".join(waiting[:5]) + (" …" if len(waiting) > 5 else "")
        reason = f"{len(waiting)} components not checked yet: {head}"
        return JSONResponse({"ok": False, "reason": reason}, status_code=503)
    return {"ok": True, "reason": f"store reachable; all {len(names)} components checked"}


def component_json(ctx: ApiContext, row: ComponentRow, open_id: str | None) -> dict[str, Any]:
    """A component row as ``status --json`` prints it, plus the API's own fields."""
    out = row.to_json()
    out.update(
        last_class=models.failure_class(out),
        open_incident=open_id,
        owner_agent=ctx.core.owner_of(row.name),
    )
    return out


def _open_ids(ctx: ApiContext) -> dict[str, str]:
    return {i.component: i.id for i in ctx.store.incidents(open_only=True, limit=100_000)}


@router.get("/components", response_model=models.ComponentPage)
async def components(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[
        str | None, Query(max_length=64, description="last name of the previous page")
    ] = None,
    state: Annotated[
        ComponentState | None, Query(description="only components in this state")
    ] = None,
) -> Any:
    """Every component, by name, a page at a time (``next`` is the ``after`` of the next page)."""
    return await run_in_threadpool(components_page, ctx, limit, after, state)


def components_page(
    ctx: ApiContext, limit: int, after: str | None, state: str | None
) -> dict[str, Any]:
    """One page of ``GET /api/v1/components`` (reads the store: call it off the loop)."""
    rows = ctx.store.components_page(after=after, limit=limit + 1, state=state)
    more = len(rows) > limit
    rows = rows[:limit]
    open_ids = _open_ids(ctx)
    return {
        "components": [component_json(ctx, r, open_ids.get(r.name)) for r in rows],
        "next": rows[-1].name if more else None,
    }


@router.get("/components/{name}", response_model=models.ComponentDetail)
def component(ctx: Ctx, name: str) -> Any:
    """One component with its recent transitions, incidents, recovery points and RPO exposure."""
    row = ctx.store.component(name)
    incidents = ctx.store.incidents(name, limit=20)
    open_id = next((i.id for i in incidents if i.is_open), None)
    points = ctx.store.recovery_points(name)
    out = component_json(ctx, row, open_id)
    out["transitions"] = [t.to_json() for t in ctx.store.transitions(name, limit=50)]
    out["incidents"] = [i.to_json(ctx.store.steps(i.id)) for i in incidents]
    out["recovery_points"] = [p.to_json() for p in points]
    comp = ctx.core.catalog.components.get(name)
    exposure = None
    if comp is not None and comp.backup is not None:
        newest = max((p.taken_at for p in points), default=None)
        e = rpo_exposure(name, newest, comp.rpo, datetime.now(UTC))
        exposure = {
            "age_s": e.age_s,
            "rpo_s": e.rpo_s,
            "at_risk": e.at_risk,
            "breached": e.breached,
            "reason": e.reason,
        }
    out["rpo_exposure"] = exposure
    return out


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    from paramedic.catalog.duration import parse_duration

    try:
        return datetime.now(UTC) - parse_duration(text)
    except (ValueError, OverflowError):
        raise ApiError(400, f"since {text!r}: give a duration like 24h") from None


def incident_json(ctx: ApiContext, incident: IncidentRow) -> dict[str, Any]:
    """An incident as ``history --json`` prints it: with its steps."""
    return incident.to_json(ctx.store.steps(incident.id))


@router.get("/incidents", response_model=models.IncidentList)
async def incidents(
    ctx: Ctx,
    component: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[
        IncidentStateQ | None, Query(description="open: every open one; else one state")
    ] = None,
    since: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{1,5}(ms|s|m|h|d)$", description="only incidents of the last 24h"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Any:
    """Incidents newest first, each with its three timestamps, measured RTO/RPO and steps."""
    return await run_in_threadpool(_incidents, ctx, component, state, _since(since), limit)


def _incidents(
    ctx: ApiContext, component: str | None, state: str | None, start: datetime | None, limit: int
) -> dict[str, Any]:
    wide = limit if state is None and start is None else max(limit * 10, 1000)
    rows = ctx.store.incidents(component, limit=wide, open_only=state == "open")
    if state not in (None, "open"):
        rows = [r for r in rows if r.state == state]
    if start is not None:
        rows = [r for r in rows if r.detected_at >= start]
    return {"incidents": [incident_json(ctx, r) for r in rows[:limit]]}


@router.get("/incidents/{incident_id}", response_model=models.IncidentDetail)
def incident(ctx: Ctx, incident_id: str) -> Any:
    """One incident with every step, its approval, and the state changes while it was open."""
    row = ctx.store.incident(incident_id)
    out = incident_json(ctx, row)
    approval = ctx.store.approval(incident_id)
    out["approval"] = approval.to_json() if approval else None
    end = row.recovered_at or row.escalated_at or datetime.now(UTC)
    lo, hi = row.failed_at - timedelta(seconds=1), end + timedelta(seconds=1)
    out["decisions"] = [
        t.to_json()
        for t in reversed(ctx.store.transitions(row.component, limit=200))
        if lo <= t.at <= hi
    ]
    return out


@router.get("/drills")
def drills(
    ctx: Ctx, component: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    """The shape of ``paramedic history --drills --json``."""
    return {"drills": [d.to_json() for d in ctx.store.drills(component)]}


@router.get("/backups")
def backups(
    ctx: Ctx, component: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    """Recovery points per component with backups, as the store holds them (``backups --json``)."""
    catalog = ctx.core.catalog
    names = [n for n, c in catalog.components.items() if c.backup is not None]
    if component is not None:
        if component not in names:
            raise ApiError(404, f"no component {component!r} with a backup in {catalog.source}")
        names = [component]
    points = ctx.store.recovery_points()
    out = []
    for name in names:
        backup = catalog.components[name].backup
        assert backup is not None
        own = [p for p in points if p.component == name]
        taken = [p.taken_at for p in own]
        out.append(
            {
                "component": name,
                "engine": backup.engine.value,
                "repository": str(catalog.resolve_path(backup.repository))
                if backup.repository
                else None,
                "window": {
                    "oldest": iso_utc(min(taken)) if taken else None,
                    "newest": iso_utc(max(taken)) if taken else None,
                },
                "points": [p.to_json() for p in own],
            }
        )
    return {"components": out}


@router.get("/report")
def report(ctx: Ctx) -> dict[str, Any]:
    """The shape of ``paramedic report --json`` (evidence older than 30 days is an open risk)."""
    from paramedic.report.model import build_report

    built = build_report(
        ctx.core.catalog, ctx.store, datetime.now(UTC), stale_after=timedelta(days=30)
    )
    result: dict[str, Any] = built.to_json()
    return result
