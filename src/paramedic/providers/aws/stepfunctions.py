"""A component's recovery ladder as an AWS Step Functions state machine (Amazon States Language).

``paramedic aws export-stepfunctions COMPONENT`` writes ``ladder_definition``: one Task per
recovery strategy, in ladder order, each invoking paramedic's Lambda entry point
(``paramedic.providers.aws.lambda_entry.handler``) with ``{catalog, component,
strategy_index, incident_id}``; the execution's input must carry ``incident_id``.

For each strategy ``N-<strategy>``:

- the Task times out after the step's ``timeout``;
- transient Lambda service errors are retried with the component's budget: first wait
  ``budget.backoff``, doubling, at most ``budget.backoff_max``, ``budget.recoveries - 1``
  retries;
- any other error (timeout included) is caught and the next strategy is tried;
- the Choice ``N-<strategy>-ok?`` goes to ``Recovered`` when the answer's ``ok`` is true,
  else to the next strategy; after the last one, the Fail state ``Escalated``.

Steps that need approval (``approval: required``) are exported like the others with a
Comment saying so: the state machine does not wait for an operator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paramedic.catalog.aws import AwsSettings
from paramedic.errors import NotFound
from paramedic.providers.aws import session

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog

IAM_ACTIONS: dict[str, tuple[str, ...]] = {
    "cli:export-stepfunctions": (
        "states:ListStateMachines",
        "states:CreateStateMachine",
        "states:UpdateStateMachine",
        "iam:PassRole",
    )
}
"""Feature -> the IAM actions it calls (the machine's own role needs lambda:InvokeFunction)."""

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
RECOVERED = "Recovered"
ESCALATED = "Escalated"
TRANSIENT_LAMBDA_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)


def ladder_definition(
    catalog: Catalog, component: str, lambda_arn: str, *, catalog_path: str | None = None
) -> dict[str, Any]:
    """The ASL definition of ``component``'s recovery ladder, invoking ``lambda_arn`` per step.

    ``catalog_path`` is where the Lambda function reads the catalog (default: the path this
    catalog was loaded from).
    """
    found = catalog.components.get(component)
    if found is None:
        known = ", ".join(sorted(catalog.components))
        raise NotFound(f"no component {component!r} in {catalog.source}; known: {known}")
    budget = found.budget
    retry = {
        "ErrorEquals": list(TRANSIENT_LAMBDA_ERRORS),
        "IntervalSeconds": max(1, round(budget.backoff.total_seconds())),
        "MaxDelaySeconds": max(1, round(budget.backoff_max.total_seconds())),
        "BackoffRate": 2.0,
        "MaxAttempts": max(0, budget.recoveries - 1),
    }
    names = [f"{index + 1}-{step.strategy}" for index, step in enumerate(found.recovery)]
    states: dict[str, Any] = {}
    for index, step in enumerate(found.recovery):
        name = names[index]
        fallback = names[index + 1] if index + 1 < len(names) else ESCALATED
        task: dict[str, Any] = {
            "Type": "Task",
            "Comment": f"recovery[{index}]: {step.strategy}"
            + (
                " (approval required in paramedic; not awaited here)" if step.needs_approval else ""
            ),
            "Resource": LAMBDA_INVOKE,
            "Parameters": {
                "FunctionName": lambda_arn,
                "Payload": {
                    "catalog": catalog_path or catalog.source,
                    "component": component,
                    "strategy_index": index,
                    "incident_id.$": "$.incident_id",
                },
            },
            "ResultPath": "$.result",
            "TimeoutSeconds": max(1, round(step.timeout.total_seconds())),
            "Retry": [retry],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": fallback}],
            "Next": f"{name}-ok?",
        }
        states[name] = task
        states[f"{name}-ok?"] = {
            "Type": "Choice",
            "Choices": [
                {
                    "And": [
                        {"Variable": "$.result.Payload.ok", "IsPresent": True},
                        {"Variable": "$.result.Payload.ok", "BooleanEquals": True},
                    ],
                    "Next": RECOVERED,
                }
            ],
            "Default": fallback,
        }
    states[RECOVERED] = {"Type": "Succeed"}
    states[ESCALATED] = {
        "Type": "Fail",
        "Error": "paramedic.Escalated",
        "Cause": f"every recovery strategy of {component} failed; an operator must act",
    }
    return {
        "Comment": f"paramedic recovery ladder of {component} ({catalog.source})",
        "StartAt": names[0] if names else ESCALATED,
        "States": states,
    }


async def create_state_machine(
    settings: AwsSettings, name: str, definition: dict[str, Any], role_arn: str
) -> str:
    """Create the state machine ``name``, or update the one of that name; returns its ARN."""
    import json

    states = session.client(settings, "stepfunctions")
    text = json.dumps(definition, sort_keys=True)
    existing = await _find(states, name)
    if existing is not None:
        await session.call(
            states,
            "UpdateStateMachine",
            name,
            stateMachineArn=existing,
            definition=text,
            roleArn=role_arn,
        )
        return existing
    created = await session.call(
        states, "CreateStateMachine", name, name=name, definition=text, roleArn=role_arn
    )
    return str(created["stateMachineArn"])


async def _find(states: Any, name: str) -> str | None:
    token: str | None = None
    while True:
        page = await session.call(
            states, "ListStateMachines", name, **({"nextToken": token} if token else {})
        )
        for machine in page.get("stateMachines", []):
            if machine.get("name") == name:
                return str(machine["stateMachineArn"])
        token = page.get("nextToken")
        if not token:
            return None
