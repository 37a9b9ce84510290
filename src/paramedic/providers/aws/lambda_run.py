"""The ``run`` strategy with ``function:``: invoke a user's Lambda function with the incident.

The function gets the incident as its JSON event (``incident_payload``) and answers
``{"ok": true, "output": "...", "recovery_point_at": "2026-11-25T14:30:00Z"?}``; an answer
``{"ok": false, "error": "..."}`` or an unhandled error in the function (``FunctionError``)
fails the step with a ``ProviderError`` naming the function and what it said.

Idempotency: the durable workflow may invoke the same ``(incident_id, step_index)`` twice
after an agent crash; both are in the event so that the function can recognise a repeat.
The invocation itself is never retried by botocore (a retried timeout would run the
recovery twice): its client has one attempt and a read timeout of the step's timeout.
"""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from paramedic.catalog.aws import AwsSettings
from paramedic.errors import ProviderError
from paramedic.providers.aws import session
from paramedic.providers.base import ActionResult

if TYPE_CHECKING:
    from paramedic.providers.base import ActionContext

IAM_ACTIONS: dict[str, tuple[str, ...]] = {"run:lambda": ("lambda:InvokeFunction",)}
"""Feature -> the IAM actions it calls (for the README and the CloudFormation role)."""

_SHOWN = 300  # characters of a function's answer quoted in an error
_lock = threading.Lock()
_clients: dict[tuple[str | None, str | None, str | None, int], Any] = {}


def incident_payload(ctx: ActionContext, strategy: str = "run") -> dict[str, Any]:
    """The event a recovery function receives: who failed, when, which step, and the catalog."""
    return {
        "incident_id": ctx.incident_id,
        "component": ctx.component_name,
        "step_index": ctx.step_index,
        "strategy": strategy,
        "failed_at": ctx.failed_at.isoformat() if ctx.failed_at else None,
        "catalog": ctx.catalog.source,
        "location": ctx.catalog.location_of(ctx.component_name),
        "type": ctx.component.type.value,
        "provider": ctx.component.provider,
        "spec": ctx.component.spec,
        "dry_run": ctx.dry_run,
    }


def lambda_client(settings: AwsSettings, within: timedelta) -> Any:
    """A Lambda client that waits ``within`` (plus a margin) for an answer and never retries."""
    from botocore.config import Config

    read_timeout = max(1, int(within.total_seconds()) + 5)
    key = (settings.profile, settings.region, settings.endpoint_url, read_timeout)
    with _lock:
        found = _clients.get(key)
    if found is not None:
        return found
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=read_timeout,
    )
    try:
        made = session.session(settings).client(
            "lambda", endpoint_url=settings.endpoint_url, config=config
        )
    except Exception as exc:  # NoRegionError and friends
        raise session.AwsError(f"lambda client: {type(exc).__name__}: {exc}") from exc
    with _lock:
        return _clients.setdefault(key, made)


async def invoke_recovery(
    settings: AwsSettings, function: str, payload: dict[str, Any], within: timedelta
) -> ActionResult:
    """Invoke ``function`` (name or ARN) synchronously with ``payload``; its answer is the step's."""
    aws_client = lambda_client(settings, within)
    body = json.dumps(payload, sort_keys=True, default=str).encode()
    limit = within.total_seconds()
    try:
        response, text = await asyncio.wait_for(
            asyncio.to_thread(_invoke_sync, aws_client, function, body), timeout=limit
        )
    except TimeoutError:
        raise ProviderError(
            f"Lambda function {function!r} gave no answer within {limit:g}s; "
            "raise the step's timeout or make the function faster"
        ) from None
    return _result(function, text, response.get("FunctionError"), response.get("StatusCode"))


def _invoke_sync(aws_client: Any, function: str, body: bytes) -> tuple[dict[str, Any], str]:
    """Invoke and read the answer, both in the worker thread.

    The answer's ``Payload`` is a stream still on the connection: reading it is network I/O
    that must not run on the event loop, and its errors become ``AwsError`` like the call's.
    """
    response: dict[str, Any] = session.call_sync(
        aws_client,
        "Invoke",
        function,
        FunctionName=function,
        InvocationType="RequestResponse",
        Payload=body,
    )
    stream = response.get("Payload")
    try:
        raw = stream.read() if stream is not None else b""
    except Exception as exc:
        raise session.AwsError(
            f"lambda Invoke {function}: reading the answer failed: "
            f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        ) from exc
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return response, text


def _result(function: str, text: str, function_error: str | None, status: Any) -> ActionResult:
    """Turn the function's answer into an ActionResult, or a ProviderError saying what it said."""
    try:
        answer: Any = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        answer = None
    if function_error:
        if isinstance(answer, dict) and "errorMessage" in answer:
            kind = answer.get("errorType") or function_error
            said = f"{kind}: {_one_line(str(answer['errorMessage']))}"
        else:
            said = f"{function_error}: {_one_line(text)}"
        raise ProviderError(f"Lambda function {function!r} failed: {said}")
    if not isinstance(answer, dict) or not isinstance(answer.get("ok"), bool):
        raise ProviderError(
            f"Lambda function {function!r} answered {_one_line(text) or 'nothing'!r}; "
            'a recovery function must return {"ok": true|false, "output": "..."}'
        )
    output = str(answer.get("output") or "")
    if not answer["ok"]:
        said = answer.get("error") or output or "no reason given"
        raise ProviderError(
            f"Lambda function {function!r} reported failure: {_one_line(str(said))}"
        )
    return ActionResult(
        output=output,
        recovery_point_at=_moment(function, answer.get("recovery_point_at")),
        detail={"function": function, "status_code": status},
    )


def _moment(function: str, value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ProviderError(
            f"Lambda function {function!r}: recovery_point_at {value!r} is not an ISO 8601 time"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _SHOWN else line[: _SHOWN - 3] + "..."
