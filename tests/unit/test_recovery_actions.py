"""Who carries out a step: a ``run`` step naming a function goes to Lambda whatever the provider."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from paramedic.catalog.model import Catalog, Run
from paramedic.plan import analyze
from paramedic.providers.aws.lambda_run import incident_payload
from paramedic.providers.base import ActionContext
from paramedic.recovery import actions


def _catalog(recovery: list[dict[str, Any]]) -> Catalog:
    return Catalog.model_validate(
        {
            "version": 1,
            "location": "site-a",
            "components": {
                "cache": {
                    "type": "cache",
                    "rto": "1h",
                    "rpo": "1h",
                    "provider": "redis",
                    "spec": {"dir": "/tmp/x"},
                    "health": {"check": "redis", "interval": "1s", "timeout": "1s"},
                    "recovery": recovery,
                }
            },
        }
    )


class _Provider:
    def describe(self, step: Any) -> str:
        return "the provider's own words"


def test_a_function_step_is_supported_by_any_provider_and_a_command_is_not() -> None:
    with_function = analyze(
        _catalog([{"strategy": "scale_out"}, {"strategy": "run", "function": "fix-cache"}])
    )
    unsupported = [g.reason for g in with_function.gaps if g.kind == "strategy_unsupported"]
    assert unsupported == [
        "step 1, scale_out: provider 'redis' cannot carry it out"
        " (it can: restart_service, restore_from_backup, run)"
    ]


def test_describe_names_the_function_or_asks_the_provider() -> None:
    step = Run(strategy="run", function="arn:aws:lambda:us-east-1:123456789012:function:fix")
    assert actions.describe(_Provider(), step) == (  # type: ignore[arg-type]
        "invoke the Lambda function 'arn:aws:lambda:us-east-1:123456789012:function:fix'"
        " with the incident as its payload"
    )
    command = Run(strategy="run", command=["true"])
    assert actions.describe(_Provider(), command) == "the provider's own words"  # type: ignore[arg-type]
    assert actions.by_function(step) and not actions.by_function(command)


def test_the_payload_is_the_incident() -> None:
    catalog = _catalog([{"strategy": "run", "function": "fix-cache"}])
    step = catalog.components["cache"].recovery[0]
    assert isinstance(step, Run)
    failed = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    ctx = ActionContext("inc-1", 0, "cache", catalog.components["cache"], catalog, failed_at=failed)
    assert incident_payload(ctx, step.strategy) == {
        "incident_id": "inc-1",
        "step_index": 0,
        "component": "cache",
        "strategy": "run",
        "failed_at": "2026-11-25T03:00:00+00:00",
        "catalog": "<catalog>",
        "location": "site-a",
        "type": "cache",
        "provider": "redis",
        "spec": {"dir": "/tmp/x"},
        "dry_run": False,
    }
