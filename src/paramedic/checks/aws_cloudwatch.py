"""The ``aws.cloudwatch_alarm`` check: a CloudWatch alarm (metric or composite) is not in ALARM.

``OK`` passes; ``ALARM`` fails with the alarm's ``StateReason``; ``INSUFFICIENT_DATA``
passes or fails as the check's ``insufficient_data`` says; an alarm that does not exist
fails naming it (a deleted alarm must not look healthy).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from paramedic.catalog.aws import CloudWatchAlarmCheck
from paramedic.checks.probe import ProbeContext, Verdict, failed, passed
from paramedic.checks.result import FailureClass
from paramedic.errors import ParamedicError
from paramedic.providers.aws import session

IAM_ACTIONS: dict[str, tuple[str, ...]] = {
    "check:aws.cloudwatch_alarm": ("cloudwatch:DescribeAlarms",)
}
"""Feature -> the IAM actions it calls."""

_REASON_SHOWN = 300


async def probe_cloudwatch_alarm(check: CloudWatchAlarmCheck, ctx: ProbeContext) -> Verdict:
    """Describe the alarm and judge its state."""
    name = check.alarm_name
    try:
        cloudwatch = session.client(check.settings, "cloudwatch")
        answer = await session.call(
            cloudwatch,
            "DescribeAlarms",
            name,
            AlarmNames=[name],
            AlarmTypes=["MetricAlarm", "CompositeAlarm"],
        )
    except ParamedicError as exc:
        return failed(FailureClass.error, str(exc))
    alarms = [*answer.get("MetricAlarms", []), *answer.get("CompositeAlarms", [])]
    alarm = next((a for a in alarms if a.get("AlarmName") == name), None)
    if alarm is None:
        where = check.settings.region or "the default region"
        return failed(
            FailureClass.error,
            f"CloudWatch alarm {name!r} does not exist in {where}; fix alarm_name or create it",
        )
    state = str(alarm.get("StateValue", ""))
    reason = _short(str(alarm.get("StateReason") or "no reason given"))
    if state == "OK":
        return passed(f"alarm {name} is OK")
    if state == "INSUFFICIENT_DATA":
        detail = f"alarm {name} has insufficient data: {reason}"
        if check.insufficient_data == "pass":
            return passed(detail)
        return failed(FailureClass.bad_response, detail)
    return failed(FailureClass.bad_response, f"alarm {name} is in {state}: {reason}")


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _REASON_SHOWN else line[: _REASON_SHOWN - 3] + "..."


PROBES: dict[str, Callable[[Any, ProbeContext], Awaitable[Verdict]]] = {
    "aws.cloudwatch_alarm": probe_cloudwatch_alarm
}
"""Check kind -> probe; registered by paramedic.checks.registry."""
