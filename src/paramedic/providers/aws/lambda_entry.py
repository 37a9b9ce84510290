"""paramedic's own Lambda entry point: carry out one recovery step of one component.

The Step Functions ladder (``paramedic aws export-stepfunctions``) invokes it once per
strategy with the event::

    {"catalog": "/var/task/paramedic.yaml", "component": "orders-db",
     "strategy_index": 0, "incident_id": "...", "failed_at": "2026-11-25T14:30:00Z"?}

``catalog`` is a file path readable by the function (package the catalog with the
function or mount it from EFS); ``s3://`` locations are not read in this version.
The handler builds the component's provider, takes charge of it (``start``), carries out
``recovery[strategy_index]`` and releases it without stopping what it started, and
answers ``{"ok": true, "output": ..., "recovery_point_at": ISO or null}``; any error
answers ``{"ok": false, "error": one line}`` (the state machine's Choice reads ``ok``).

Handler setting: ``paramedic.providers.aws.lambda_entry.handler``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from paramedic.errors import ParamedicError
from paramedic.providers.base import ActionContext, ActionResult

log = logging.getLogger(__name__)

_SHOWN = 500  # characters of an error returned to the state machine


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Carry out one step of a component's recovery ladder; never raises."""
    try:
        result = asyncio.run(_carry_out(event))
    except ParamedicError as exc:
        return {"ok": False, "error": _one_line(str(exc))}
    except Exception as exc:  # a bug or a foreign error: the state machine still gets an answer
        log.exception("paramedic Lambda entry: step failed")
        return {"ok": False, "error": _one_line(f"{type(exc).__name__}: {exc}")}
    point = result.recovery_point_at
    return {
        "ok": True,
        "output": result.output,
        "recovery_point_at": point.isoformat() if point is not None else None,
    }


async def _carry_out(event: dict[str, Any]) -> ActionResult:
    from paramedic.catalog.loader import load_catalog
    from paramedic.providers.registry import build_provider

    location = _field(event, "catalog", str)
    component_name = _field(event, "component", str)
    index = _field(event, "strategy_index", int)
    incident_id = _field(event, "incident_id", str)
    if location.startswith("s3://"):
        raise ParamedicError(
            f"catalog {location}: s3:// catalogs are not read in this version; "
            "package the catalog with the function and give its path"
        )
    catalog = load_catalog(location)
    component = catalog.components.get(component_name)
    if component is None:
        raise ParamedicError(f"catalog {location}: no component {component_name!r}")
    if not 0 <= index < len(component.recovery):
        raise ParamedicError(
            f"component {component_name!r} has {len(component.recovery)} recovery step(s); "
            f"strategy_index {index} is not one of them"
        )
    step = component.recovery[index]
    ctx = ActionContext(
        incident_id=incident_id,
        step_index=index,
        component_name=component_name,
        component=component,
        catalog=catalog,
        failed_at=_failed_at(event.get("failed_at")),
        log=lambda line: log.info("%s: %s", component_name, line),
    )
    provider = build_provider(catalog, component_name)
    await provider.start()
    try:
        return await provider.carry_out(step, ctx)
    finally:
        await provider.close(stop_owned=False)


def _field(event: dict[str, Any], key: str, kind: type[Any]) -> Any:
    value = event.get(key)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ParamedicError(
            f"Lambda event: {key} must be a {kind.__name__} (got {value!r}); "
            "expected {catalog, component, strategy_index, incident_id}"
        )
    return value


def _failed_at(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ParamedicError(f"Lambda event: failed_at {value!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _SHOWN else line[: _SHOWN - 3] + "..."
