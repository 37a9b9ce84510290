"""``GET /api/v1/events``: every decision line as a server-sent event, as it happens."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from paramedic.api.context import ApiContext
from paramedic.api.deps import context, require_read

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_read)], tags=["read"])

EVENTS_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "text/event-stream: `event: decision` with one decision line as JSON "
        "in `data:` (at, component, decision, reason, …); a comment every 15 s of silence",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def sse(record: dict[str, Any]) -> str:
    """One server-sent event carrying a decision line."""
    return f"event: decision\ndata: {json.dumps(record, default=str)}\n\n"


@router.get("/events", response_class=StreamingResponse, responses=EVENTS_DOC)
async def events(
    ctx: Annotated[ApiContext, Depends(context)],
    component: Annotated[
        str | None, Query(max_length=64, description="only this component's lines")
    ] = None,
    heartbeat: Annotated[
        float, Query(ge=0.05, le=60.0, description="seconds between keep-alives")
    ] = 15.0,
) -> StreamingResponse:
    """Follow the agent's decisions (what the dashboard and ``paramedic status --watch`` read)."""
    sub = ctx.hub.subscribe()

    async def stream() -> AsyncIterator[str]:
        try:
            yield ": following the agent's decisions\n\n"
            async for record in ctx.hub.follow(sub, heartbeat):
                if record is None:
                    yield ": keep-alive\n\n"
                elif component is None or record.get("component") in (component, "-"):
                    yield sse(record)
        finally:
            ctx.hub.unsubscribe(sub)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
