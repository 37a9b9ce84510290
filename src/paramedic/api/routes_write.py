"""The write endpoints: recover, pause, resume, backup, drill, approve, deny.

Every one needs the bearer token and is audited with the caller's address. They
take the CLI's durable paths: a recovery is a manual incident in the store
enqueued on the agent's DBOS queue (as ``paramedic recover`` does when an agent
runs); an approval is the store's answer plus a DBOS message to the workflow.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from paramedic.api import models
from paramedic.api.context import ApiContext
from paramedic.api.deps import caller, context, require_write
from paramedic.api.errors import ApiError
from paramedic.catalog.duration import format_duration, parse_duration

Ctx = Annotated[ApiContext, Depends(context)]
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": models.Error} for code in (400, 401, 404, 409, 422)
}

router = APIRouter(
    prefix="/api/v1", dependencies=[Depends(require_write)], tags=["write"], responses=ERRORS
)


def _known(ctx: ApiContext, name: str) -> None:
    catalog = ctx.core.catalog
    if name not in catalog.components:
        raise ApiError(404, f"no component {name!r} in {catalog.source}")


def _audit(ctx: ApiContext, request: Request, action: str, subject: str, **detail: Any) -> None:
    ctx.store.audit(actor=caller(request), action=f"api.{action}", subject=subject, detail=detail)


def _accepted(**fields: Any) -> JSONResponse:
    return JSONResponse(models.Accepted(**fields).model_dump(), status_code=202)


@router.post(
    "/components/{name}/recover",
    status_code=202,
    response_model=models.Accepted,
    responses={200: {"model": models.DryRun}},
)
async def recover(
    ctx: Ctx, request: Request, name: str, body: Annotated[models.RecoverBody | None, Body()] = None
) -> Any:
    """Open a manual incident and hand it to the agent's durable queue (202 with its id)."""
    from paramedic.manual import dry_run_plan, open_manual_incident

    body = body or models.RecoverBody()
    _known(ctx, name)
    catalog = ctx.core.catalog
    if body.dry_run:
        steps = await run_in_threadpool(dry_run_plan, catalog, name, body.strategy)
        return JSONResponse({"component": name, "dry_run": True, "steps": steps})

    def open_and_enqueue() -> str:
        incident = open_manual_incident(
            catalog, ctx.store, name, body.strategy, actor=caller(request)
        )
        _audit(ctx, request, "recover", name, incident=incident.id, strategy=body.strategy)
        from paramedic.agent.routing import manual_queue
        from paramedic.recovery import durable

        # the owner's own queue (this agent's when it owns it): no other agent dequeues it
        queue = manual_queue(ctx.store, catalog, name) or durable.QUEUE
        ctx.durable_client().enqueue_recovery(incident.id, body.strategy, None, queue=queue)
        return str(incident.id)

    incident_id = await run_in_threadpool(open_and_enqueue)
    return _accepted(
        component=name, incident_id=incident_id, message=f"{incident_id}: handed to the agent"
    )


@router.post("/components/{name}/pause", response_model=models.Accepted)
def pause(
    ctx: Ctx, request: Request, name: str, body: Annotated[models.PauseBody | None, Body()] = None
) -> Any:
    """Maintenance: keep checking, recover and page nothing (``for``: ``2h``; null: until resumed)."""
    body = body or models.PauseBody()
    _known(ctx, name)
    until = None
    span = ""
    if body.for_ is not None:
        try:
            length = parse_duration(body.for_)
        except ValueError as exc:
            raise ApiError(400, f"for {body.for_!r}: {exc}") from None
        if length.total_seconds() <= 0:
            raise ApiError(400, f"for {body.for_!r}: must be longer than 0s, e.g. 2h")
        until = datetime.now(UTC) + length
        span = f" for {format_duration(length)}"
    ctx.store.component(name)
    ctx.store.pause(name, until=until, reason=body.reason, actor=caller(request))
    _audit(ctx, request, "pause", name, until=until.isoformat() if until else None)
    return {
        "component": name,
        "message": f"{name}: paused{span or ' until resumed'} ({body.reason})",
    }


@router.post("/components/{name}/resume", response_model=models.Accepted)
def resume(ctx: Ctx, request: Request, name: str) -> Any:
    """End maintenance: recover and page again."""
    _known(ctx, name)
    ctx.store.component(name)
    ctx.store.resume(name, actor=caller(request))
    _audit(ctx, request, "resume", name)
    return {"component": name, "message": f"{name}: resumed"}


@router.post("/components/{name}/backup", status_code=202, response_model=models.Accepted)
async def backup(ctx: Ctx, request: Request, name: str) -> Any:
    """Take a recovery point now; its outcome arrives as a ``backup_taken``/``backup_failed`` event."""
    _known(ctx, name)
    if ctx.core.catalog.components[name].backup is None:
        raise ApiError(409, f"{name} has no backup: configure components.{name}.backup")
    if ctx.core.backing_up(name):
        raise ApiError(409, f"a backup or verification of {name} is already running")
    await run_in_threadpool(_audit, ctx, request, "backup", name)
    ctx.core.spawn(ctx.core.take_backup(name))
    return _accepted(component=name, message=f"{name}: backup started")


@router.post("/components/{name}/drill", status_code=202, response_model=models.Accepted)
async def drill(ctx: Ctx, request: Request, name: str, body: models.DrillBody) -> Any:
    """Start a drill with the CLI's guards (409 with the guard's reason when one says no)."""
    _known(ctx, name)
    runner = ctx.core.drill_runner()
    refusal = await run_in_threadpool(runner.refusal, name, body.fault, yes=body.yes)
    if refusal is not None:
        raise ApiError(409, refusal.message)
    await run_in_threadpool(_audit, ctx, request, "drill", name, fault=body.fault, yes=body.yes)
    ctx.core.spawn(runner.run(name, body.fault, yes=body.yes))
    return _accepted(component=name, message=f"{name}: drill with fault {body.fault} started")


def _decide(ctx: ApiContext, request: Request, incident_id: str, approved: bool) -> Any:
    actor = caller(request)
    row = ctx.store.decide_approval(
        incident_id, approved=approved, actor=actor, at=datetime.now(UTC)
    )
    ctx.durable_client().send_approval(incident_id, approved, actor)
    verb = "approved" if approved else "denied"
    return {
        "incident_id": incident_id,
        "message": f"{incident_id}: step {row.seq} ({row.strategy}) {verb} by {actor}",
    }


@router.post("/incidents/{incident_id}/approve", response_model=models.Accepted)
def approve(ctx: Ctx, request: Request, incident_id: str) -> Any:
    """Let the strategy waiting for approval go ahead."""
    return _decide(ctx, request, incident_id, True)


@router.post("/incidents/{incident_id}/deny", response_model=models.Accepted)
def deny(ctx: Ctx, request: Request, incident_id: str) -> Any:
    """Refuse the waiting strategy; the workflow moves to the next one."""
    return _decide(ctx, request, incident_id, False)
