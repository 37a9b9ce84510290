"""Systems Manager Run Command: run a shell line on an instance and wait for its result.

``restart_service`` of an EC2 component runs its ``restart_command`` through the
``AWS-RunShellScript`` document. The command carries the comment
``paramedic <incident>-<step>``: a repeated step finds the command it sent
before the agent crashed and waits for that one instead of sending a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from paramedic.errors import ProviderError
from paramedic.providers.aws.session import AwsError, call, error_code, wait_for

ACTIONS = ("ssm:SendCommand", "ssm:ListCommands", "ssm:GetCommandInvocation")
"""IAM actions ``run_shell`` uses."""

DOCUMENT = "AWS-RunShellScript"
_DONE = frozenset({"Success", "Failed", "Cancelled", "TimedOut"})
_TAIL = 500  # characters of stderr/stdout kept in an error


@dataclass(frozen=True)
class CommandOutcome:
    """How one Run Command invocation ended."""

    command_id: str
    status: str
    stdout: str
    stderr: str
    resent: bool
    """False when a command sent before (same comment) was found and awaited instead."""


def step_comment(incident_id: str, step_index: int) -> str:
    """The comment that names a step's command (SSM allows 100 characters)."""
    return f"paramedic {incident_id}-{step_index}"[:100]


async def run_shell(
    ssm: Any,
    instance_id: str,
    line: str,
    comment: str,
    *,
    within: timedelta,
    interval: timedelta,
) -> CommandOutcome:
    """Run ``line`` on ``instance_id`` once per ``comment`` and wait until it ends.

    ``ssm`` is a boto3 SSM client (``session.client(settings, "ssm")``). A status
    other than Success raises ``ProviderError`` with the tail of the command's stderr.
    """
    command_id = await _sent_before(ssm, instance_id, comment)
    resent = command_id is None
    if command_id is None:
        answer = await call(
            ssm,
            "SendCommand",
            instance_id,
            InstanceIds=[instance_id],
            DocumentName=DOCUMENT,
            Comment=comment,
            Parameters={
                "commands": [line],
                "executionTimeout": [str(max(30, int(within.total_seconds())))],
            },
        )
        command_id = str(answer["Command"]["CommandId"])

    async def finished() -> dict[str, Any] | None:
        try:
            invocation = await call(
                ssm,
                "GetCommandInvocation",
                f"{command_id} {instance_id}",
                CommandId=command_id,
                InstanceId=instance_id,
            )
        except AwsError as exc:
            if error_code(exc) == "InvocationDoesNotExist":  # not delivered yet
                return None
            raise
        return invocation if invocation.get("Status") in _DONE else None

    invocation = await wait_for(
        finished,
        within=within,
        interval=interval,
        what=f"SSM command {command_id} on {instance_id} to finish",
    )
    outcome = CommandOutcome(
        command_id=command_id,
        status=str(invocation["Status"]),
        stdout=str(invocation.get("StandardOutputContent", "")),
        stderr=str(invocation.get("StandardErrorContent", "")),
        resent=resent,
    )
    if outcome.status != "Success":
        tail = _tail(outcome.stderr) or _tail(outcome.stdout) or "no output"
        raise ProviderError(
            f"SSM command {command_id} on {instance_id} ended {outcome.status}"
            f" (exit {invocation.get('ResponseCode', '?')}): {tail}"
        )
    return outcome


async def _sent_before(ssm: Any, instance_id: str, comment: str) -> str | None:
    """The id of a command already sent to ``instance_id`` with ``comment``, if any."""
    answer = await call(ssm, "ListCommands", instance_id, InstanceId=instance_id, MaxResults=50)
    for command in answer.get("Commands", []):
        if command.get("Comment") == comment:
            return str(command["CommandId"])
    return None


def _tail(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _TAIL else "…" + flat[-_TAIL:]
