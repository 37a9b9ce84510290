"""Schemathesis against the ASGI app: no server error, no response off the schema, no write without a token."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from paramedic.api.app import create_app
from paramedic.api.context import ApiContext
from tests.integration.api.conftest import TOKEN

pytestmark = pytest.mark.integration

STREAMING = "/api/v1/events"  # never ends by design; test_events covers it


def _schema(ctx: ApiContext) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(ctx)).exclude(path=STREAMING)


def _run(ctx: ApiContext, headers: dict[str, str], extra: list[Any]) -> int:
    schema = _schema(ctx)
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(headers=headers, additional_checks=extra)

        check()
    return calls


def test_with_the_token_no_server_error_and_every_response_matches_the_schema(
    api_ctx: ApiContext,
) -> None:
    calls = _run(api_ctx, {"Authorization": f"Bearer {TOKEN}"}, [])
    assert calls > 100


def writes_refused(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every POST without a token is a 401, whatever its body."""
    if case.method.upper() == "POST" and response.status_code != 401:
        raise AssertionError(
            f"{case.method} {case.path} answered {response.status_code} without a token"
        )
    return None


def test_without_a_token_every_write_is_refused(api_ctx: ApiContext) -> None:
    calls = _run(api_ctx, {}, [schemathesis.check(writes_refused)])
    assert calls > 100
    assert api_ctx.core.spawned == []  # type: ignore[attr-defined]
    assert api_ctx.core.alerts == []  # type: ignore[attr-defined]
    actions = {row.action for row in api_ctx.store.audit_log()}
    assert not any(a.startswith("api.") for a in actions)
