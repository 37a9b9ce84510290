"""Who carries out a step: the component's provider, or, for a ``run`` step naming a function, AWS Lambda.

A ``run`` step with ``function:`` invokes that Lambda function with the
incident as its payload, whatever the component's provider (custom recovery
logic for anything paramedic watches). The function must be idempotent for
``(incident_id, step_index)`` like any provider action: the durable workflow
may call it again after the agent crashed mid-step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paramedic.catalog.model import Run

if TYPE_CHECKING:
    from paramedic.catalog.model import Strategy
    from paramedic.providers.base import ActionContext, ActionResult, Provider


def by_function(step: Strategy) -> bool:
    """True when ``step`` is a ``run`` step that invokes a Lambda function."""
    return isinstance(step, Run) and step.function is not None


async def carry_out(provider: Provider, step: Strategy, ctx: ActionContext) -> ActionResult:
    """Carry ``step`` out through Lambda (``run`` with ``function``) or the component's provider."""
    if isinstance(step, Run) and step.function is not None:
        from paramedic.providers.aws.lambda_run import incident_payload, invoke_recovery

        return await invoke_recovery(
            ctx.catalog.aws_for(ctx.component_name),
            step.function,
            incident_payload(ctx, step.strategy),
            step.timeout,
        )
    return await provider.carry_out(step, ctx)


def describe(provider: Provider, step: Strategy) -> str:
    """One sentence saying what ``carry_out`` would do."""
    if isinstance(step, Run) and step.function is not None:
        return f"invoke the Lambda function {step.function!r} with the incident as its payload"
    return provider.describe(step)
