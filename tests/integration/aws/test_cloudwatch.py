"""CloudWatch on moto: the ``aws.cloudwatch_alarm`` check, and the agent's own metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter

from paramedic.catalog.aws import CloudWatchAlarmCheck
from paramedic.catalog.model import HealthCheck
from paramedic.checks.registry import run_check
from paramedic.checks.result import FailureClass
from paramedic.clock import RealClock
from paramedic.providers.aws.metrics import MetricsPublisher
from tests.aws_server import MotoAccount

pytestmark = pytest.mark.integration


def alarm(moto: MotoAccount, name: str, state: str | None, reason: str = "") -> None:
    """A metric alarm on the emulated account, set to ``state`` (None: as created)."""
    cloudwatch = moto.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="StatusCheckFailed",
        Namespace="AWS/EC2",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    if state is not None:
        cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)


def check(moto: MotoAccount, name: str, insufficient: str = "pass") -> CloudWatchAlarmCheck:
    """The catalog's check, bound the way the catalog binds it."""
    parsed = TypeAdapter(HealthCheck).validate_python(
        {"check": "aws.cloudwatch_alarm", "alarm_name": name, "insufficient_data": insufficient}
    )
    assert isinstance(parsed, CloudWatchAlarmCheck)
    parsed.bind("orders-db", {}, moto.settings)
    return parsed


async def test_an_alarm_in_alarm_fails_with_its_reason(moto: MotoAccount) -> None:
    alarm(moto, "orders-db-status", "ALARM", "Threshold Crossed: 1 datapoint [1.0] >= 1.0")
    result = await run_check(check(moto, "orders-db-status"), clock=RealClock())
    assert not result.ok
    assert result.failure == FailureClass.bad_response
    assert result.detail == (
        "alarm orders-db-status is in ALARM: Threshold Crossed: 1 datapoint [1.0] >= 1.0"
    )


async def test_an_ok_alarm_passes(moto: MotoAccount) -> None:
    alarm(moto, "orders-db-status", "OK", "back to normal")
    result = await run_check(check(moto, "orders-db-status"), clock=RealClock())
    assert result.ok, result.summary
    assert result.detail == "alarm orders-db-status is OK"


@pytest.mark.parametrize("insufficient", ["pass", "fail"])
async def test_insufficient_data_is_judged_as_the_check_says(
    moto: MotoAccount, insufficient: str
) -> None:
    alarm(moto, "orders-db-status", "INSUFFICIENT_DATA", "no datapoints yet")
    result = await run_check(check(moto, "orders-db-status", insufficient), clock=RealClock())
    assert result.ok is (insufficient == "pass")
    assert result.detail == "alarm orders-db-status has insufficient data: no datapoints yet"


async def test_a_missing_alarm_fails_naming_it(moto: MotoAccount) -> None:
    alarm(moto, "another", "OK")
    result = await run_check(check(moto, "orders-db-status"), clock=RealClock())
    assert not result.ok
    assert result.failure == FailureClass.error
    assert result.detail == (
        "CloudWatch alarm 'orders-db-status' does not exist in us-east-1; "
        "fix alarm_name or create it"
    )


# ---------------------------------------------------------------- the agent's metrics


def statistic(moto: MotoAccount, metric: str, component: str, stat: str) -> float | None:
    """One statistic of ``paramedic-test/metric`` for ``component`` over the last hour."""
    now = datetime.now(UTC)
    answer: dict[str, Any] = moto.client("cloudwatch").get_metric_statistics(
        Namespace="paramedic-test",
        MetricName=metric,
        Dimensions=[{"Name": "Component", "Value": component}],
        StartTime=now - timedelta(hours=1),
        EndTime=now + timedelta(minutes=5),
        Period=3600,
        Statistics=[stat],
    )
    points = answer["Datapoints"]
    return float(points[0][stat]) if points else None


async def test_metrics_are_buffered_then_published(moto: MotoAccount) -> None:
    metrics = MetricsPublisher(moto.settings, "paramedic-test")
    await metrics.component_health("web", ok=True)
    await metrics.component_health("web", ok=False)
    await metrics.incident_opened("web")
    await metrics.recovery_measured("web", rto_s=12.5, rpo_s=0.0, outcome="recovered")
    await metrics.recovery_measured("orders-db", rto_s=None, rpo_s=None, outcome="escalated")
    assert metrics.pending == 7
    assert moto.client("cloudwatch").list_metrics(Namespace="paramedic-test")["Metrics"] == []

    assert await metrics.flush() == 7
    assert metrics.pending == 0
    listed = moto.client("cloudwatch").list_metrics(Namespace="paramedic-test")["Metrics"]
    assert {(m["MetricName"], m["Dimensions"][0]["Value"]) for m in listed} == {
        ("Healthy", "web"),
        ("IncidentsOpened", "web"),
        ("MeasuredRTO", "web"),
        ("MeasuredRPO", "web"),
        ("RecoveriesSucceeded", "web"),
        ("RecoveriesFailed", "orders-db"),
    }
    assert statistic(moto, "Healthy", "web", "Minimum") == 0.0
    assert statistic(moto, "Healthy", "web", "Maximum") == 1.0
    assert statistic(moto, "MeasuredRTO", "web", "Maximum") == 12.5
    assert statistic(moto, "RecoveriesFailed", "orders-db", "Sum") == 1.0


async def test_a_full_buffer_is_sent_in_batches_of_1000(moto: MotoAccount) -> None:
    metrics = MetricsPublisher(moto.settings, "paramedic-test")
    for index in range(2500):
        await metrics.component_health(f"c{index % 5}", ok=index % 2 == 0)
    assert metrics.pending == 500  # two batches went on their own
    assert await metrics.flush() == 500
    assert statistic(moto, "Healthy", "c0", "SampleCount") == 500.0
