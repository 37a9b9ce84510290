"""AWS settings and the AWS health checks of the catalog.

``aws: {region, profile, endpoint_url, poll_interval}`` may be given at the top
of the catalog and per component; a component's keys override the catalog's.
``endpoint_url`` points the same code at LocalStack, moto's server or a VPC
endpoint; left empty, boto3 reaches AWS itself.

The AWS checks name the resource they watch; where they may leave it out, the
resource comes from the component's ``spec`` (``Catalog`` fills ``component``
and ``spec`` in after loading, so a probe knows whose check it runs).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, PrivateAttr

from paramedic.catalog.base import CheckBase, StrictModel
from paramedic.catalog.duration import Duration


class AwsSettings(StrictModel):
    """Where and as whom boto3 reaches AWS (or an emulator of it)."""

    region: str | None = Field(None, description="e.g. eu-west-1; default: boto3's (AWS_REGION)")
    profile: str | None = Field(None, description="a profile of ~/.aws/config; default: boto3's")
    endpoint_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="LocalStack, moto's server or a VPC endpoint; default: AWS itself",
    )
    poll_interval: Duration | None = Field(
        None, description="how often a waiting step asks AWS again (default 5s)"
    )

    def merged(self, over: AwsSettings | None) -> AwsSettings:
        """These settings with every key that ``over`` sets taken from ``over``."""
        if over is None:
            return self
        return self.model_copy(update=over.model_dump(exclude_none=True))

    @property
    def poll(self) -> timedelta:
        """The polling interval in force."""
        return self.poll_interval or timedelta(seconds=5)


# ---------------------------------------------------------------- AWS health checks


class AwsCheckBase(CheckBase):
    """Timing of AWS checks (the API is slower than a local probe: longer defaults)."""

    interval: Duration = timedelta(seconds=30)
    timeout: Duration = timedelta(seconds=10)
    aws: AwsSettings | None = Field(None, description="overrides the component's aws settings")
    _component: str = PrivateAttr(default="")
    _spec: dict[str, Any] = PrivateAttr(default_factory=dict)
    _settings: AwsSettings = PrivateAttr(default_factory=AwsSettings)

    def bind(self, component: str, spec: dict[str, Any], settings: AwsSettings) -> None:
        """Remember whose check this is (called by the catalog after loading)."""
        self._component = component
        self._spec = dict(spec)
        self._settings = settings.merged(self.aws)

    @property
    def component(self) -> str:
        """The component this check watches."""
        return self._component

    @property
    def spec(self) -> dict[str, Any]:
        """The component's provider ``spec`` (for resource ids the check leaves out)."""
        return self._spec

    @property
    def settings(self) -> AwsSettings:
        """Catalog, component and check settings merged."""
        return self._settings


class Ec2StatusCheck(AwsCheckBase):
    """EC2 instance state is running and both status checks (instance, system) pass."""

    check: Literal["aws.ec2_status"]
    instance_id: str | None = Field(
        None,
        description="default: the component's current instance (spec.instance_id or its replacement)",
    )


class TargetHealthCheck(AwsCheckBase):
    """The instance is ``healthy`` in an ELBv2 target group."""

    check: Literal["aws.target_health"]
    target_group_arn: str
    instance_id: str | None = Field(None, description="default: the component's current instance")
    port: int | None = Field(None, ge=1, le=65535)


class Route53HealthCheck(AwsCheckBase):
    """A Route 53 health check reports healthy from its checkers."""

    check: Literal["aws.route53_health"]
    health_check_id: str


class RdsStatusCheck(AwsCheckBase):
    """RDS instance status is ``available`` (and, with ``dsn``, a query answers)."""

    check: Literal["aws.rds_status"]
    db_instance_identifier: str | None = Field(
        None, description="default: spec.db_instance_identifier"
    )
    dsn: str | None = Field(
        None, pattern=r"^postgres(ql)?://", description="also run query through psycopg"
    )
    query: str = "SELECT 1"


class ElastiCacheStatusCheck(AwsCheckBase):
    """ElastiCache cluster status is ``available`` and every node is too."""

    check: Literal["aws.elasticache_status"]
    cache_cluster_id: str | None = Field(None, description="default: spec.cache_cluster_id")


class CloudWatchAlarmCheck(AwsCheckBase):
    """A CloudWatch alarm is not in ALARM (INSUFFICIENT_DATA as ``insufficient_data`` says)."""

    check: Literal["aws.cloudwatch_alarm"]
    alarm_name: str
    insufficient_data: Literal["pass", "fail"] = "pass"


AWS_CHECKS = (
    Ec2StatusCheck,
    TargetHealthCheck,
    Route53HealthCheck,
    RdsStatusCheck,
    ElastiCacheStatusCheck,
    CloudWatchAlarmCheck,
)
AWS_CHECK_KINDS = (
    "aws.ec2_status",
    "aws.target_health",
    "aws.route53_health",
    "aws.rds_status",
    "aws.elasticache_status",
    "aws.cloudwatch_alarm",
)
