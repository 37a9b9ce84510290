"""The catalog as typed models: what paramedic watches and how it recovers it.

Every model forbids unknown keys, so a misspelled key is an error with its
line, not a silently ignored setting. Provider-specific settings live in
``Component.spec`` and are validated by the provider's own spec model (see
``paramedic.providers.base``) when the catalog is loaded.
"""

from __future__ import annotations

import re
import shlex
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from croniter import croniter
from pydantic import (
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from paramedic.catalog.api import AlertSettings, ApiSettings
from paramedic.catalog.aws import (
    AWS_CHECK_KINDS,
    AwsCheckBase,
    AwsSettings,
    CloudWatchAlarmCheck,
    Ec2StatusCheck,
    ElastiCacheStatusCheck,
    RdsStatusCheck,
    Route53HealthCheck,
    TargetHealthCheck,
)
from paramedic.catalog.base import CheckBase, StrictModel
from paramedic.catalog.duration import Duration, format_duration

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
ComponentName = Annotated[str, Field(pattern=NAME_PATTERN)]
"""A component name; a bad one is reported at its own key, not at ``components``."""


class ComponentType(StrEnum):
    """What kind of thing a component is."""

    database = "database"
    application_server = "application_server"
    cache = "cache"
    message_queue = "message_queue"
    file_system = "file_system"
    load_balancer = "load_balancer"


class Criticality(StrEnum):
    """How much a failure hurts; ordered critical > important > standard."""

    critical = "critical"
    important = "important"
    standard = "standard"

    @property
    def rank(self) -> int:
        """3 for critical, 2 for important, 1 for standard."""
        return {"critical": 3, "important": 2, "standard": 1}[self.value]


class Event(StrEnum):
    """Events a notification route can subscribe to."""

    failure_detected = "failure_detected"
    recovery_started = "recovery_started"
    recovery_succeeded = "recovery_succeeded"
    recovery_failed = "recovery_failed"
    escalated = "escalated"
    blocked = "blocked"
    approval_needed = "approval_needed"
    rpo_at_risk = "rpo_at_risk"
    verification_failed = "verification_failed"
    backup_failed = "backup_failed"
    drill_finished = "drill_finished"
    drift_found = "drift_found"


def _argv(value: Any, info: ValidationInfo) -> Any:
    """Accept a command as an argv list or as a string split like a shell would.

    With ``shell: true`` a string stays whole: it is the script given to ``/bin/sh -c``.
    """
    if value is not None and not isinstance(value, str | list):
        # a number or a mapping is neither form: say both, as the README documents both
        raise ValueError(
            "must be a command: a list like [python3, app.py] or a string like 'python3 app.py'"
        )
    if isinstance(value, str) and info.data.get("shell") is True:
        return [value]
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise ValueError(f"cannot split command: {exc}") from exc
    return value


Argv = Annotated[list[str], Field(min_length=1)]


# ---------------------------------------------------------------- health checks


class HttpCheck(CheckBase):
    """An HTTP request that must answer with an expected status (and body substring)."""

    check: Literal["http"]
    url: str = Field(pattern=r"^https?://", description="http:// or https:// URL")
    method: Literal["GET", "HEAD", "POST"] = "GET"
    status: list[int] = Field(
        default_factory=list, description="accepted statuses; empty: any 2xx or 3xx"
    )
    expect: str | None = Field(None, description="substring the body must contain")
    verify_tls: bool = True
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("status", mode="before")
    @classmethod
    def _one_status(cls, value: Any) -> Any:
        return [value] if isinstance(value, int) else value


class TcpCheck(CheckBase):
    """A TCP connection that must be accepted."""

    check: Literal["tcp"]
    host: str = "127.0.0.1"
    port: int = Field(ge=1, le=65535)


class CommandCheck(CheckBase):
    """A command whose exit code must be ``expect_exit``."""

    check: Literal["command"]
    shell: bool = Field(False, description="run the command string through /bin/sh -c")
    command: Argv
    expect_exit: int = 0
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)

    _split = field_validator("command", mode="before")(_argv)


class ProcessCheck(CheckBase):
    """The process that paramedic owns for this component is alive (process provider)."""

    check: Literal["process"]


class PostgresCheck(CheckBase):
    """A query through psycopg that must succeed."""

    check: Literal["postgres"]
    dsn: str = Field(
        pattern=r"^postgres(ql)?://", description="libpq URL; its password is never logged"
    )
    query: str = "SELECT 1"


class RedisCheck(CheckBase):
    """A Redis PING that must answer PONG."""

    check: Literal["redis"]
    url: str = Field("redis://127.0.0.1:6379/0", pattern=r"^rediss?://")


class HaproxyCheck(CheckBase):
    """HAProxy's runtime API answers ``show info``; ``backend`` has ``min_up`` servers UP."""

    check: Literal["haproxy"]
    stats_socket: str = Field(description="path of the stats socket (HAProxy's runtime API)")
    backend: str | None = Field(None, description="backend whose servers must be UP")
    min_up: int = Field(1, ge=1, le=10_000, description="servers of backend that must be UP")


HealthCheck = Annotated[
    HttpCheck
    | TcpCheck
    | CommandCheck
    | ProcessCheck
    | PostgresCheck
    | RedisCheck
    | HaproxyCheck
    | Ec2StatusCheck
    | TargetHealthCheck
    | Route53HealthCheck
    | RdsStatusCheck
    | ElastiCacheStatusCheck
    | CloudWatchAlarmCheck,
    Field(discriminator="check"),
]
CHECK_KINDS = (
    "http",
    "tcp",
    "command",
    "process",
    "postgres",
    "redis",
    "haproxy",
    *AWS_CHECK_KINDS,
)


# ---------------------------------------------------------------- backups


class BackupEngine(StrEnum):
    """How recovery points are made."""

    pg_basebackup = "pg_basebackup"
    pgbackrest = "pgbackrest"
    redis_rdb = "redis_rdb"
    restic = "restic"
    aws_backup = "aws_backup"


WAL_ENGINES = frozenset({BackupEngine.pg_basebackup, BackupEngine.pgbackrest})


class Backup(StrictModel):
    """When and where recovery points are made, how long they are kept, how they are proven."""

    engine: BackupEngine
    schedule: str = Field(description="cron expression, 5 fields, local time of the agent")
    keep: Duration = timedelta(days=7)
    repository: str | None = None
    verify: Literal["daily", "weekly", "after_backup", "never"] = "never"
    verify_table: str | None = Field(
        None, description="PostgreSQL: a table whose rows are counted on verify"
    )
    archive_timeout: Duration | None = Field(
        None,
        description="WAL engines: longest time before a WAL segment is archived (default 60s); "
        "bounds the RPO instead of the schedule",
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not croniter.is_valid(value) or len(value.split()) != 5:
            raise ValueError("must be a cron expression of 5 fields like '*/30 * * * *'")
        return value

    @model_validator(mode="after")
    def _archive_for_wal(self) -> Backup:
        if self.archive_timeout is not None and self.engine not in WAL_ENGINES:
            raise ValueError(
                "archive_timeout applies only to the pg_basebackup and pgbackrest engines"
            )
        return self

    @property
    def archives_continuously(self) -> bool:
        """True when data is archived between scheduled backups (PostgreSQL WAL)."""
        return self.engine in WAL_ENGINES

    @property
    def effective_archive_timeout(self) -> timedelta:
        """The WAL archive bound in force: the configured one, else PostgreSQL's setting of 60s."""
        return self.archive_timeout or timedelta(seconds=60)

    def longest_gap(
        self, start: datetime | None = None, horizon: timedelta = timedelta(days=8)
    ) -> timedelta:
        """Longest interval between two scheduled runs over ``horizon`` (a week covers any cron)."""
        base = start or datetime(2026, 1, 5)  # a Monday, so weekly schedules are seen whole
        it = croniter(self.schedule, base)
        previous = it.get_next(datetime)
        longest = timedelta(0)
        end = base + horizon
        while previous < end:
            nxt = it.get_next(datetime)
            longest = max(longest, nxt - previous)
            previous = nxt
        return longest


# ---------------------------------------------------------------- recovery strategies


class StrategyName(StrEnum):
    """The ways to recover; a provider says which it can carry out."""

    restart_service = "restart_service"
    replace_instance = "replace_instance"
    failover_to_standby = "failover_to_standby"
    restore_from_backup = "restore_from_backup"
    scale_out = "scale_out"
    run = "run"


DESTRUCTIVE = frozenset({StrategyName.restore_from_backup, StrategyName.replace_instance})


class StepBase(StrictModel):
    """Settings every strategy step shares."""

    timeout: Duration = timedelta(seconds=30)
    approval: Literal["required", "none"] = Field(
        "none", description="required: wait for `paramedic approve` before acting"
    )
    approval_timeout: Duration | None = Field(
        None, description="escalate when nobody answers within this; default: the step's timeout"
    )

    @property
    def needs_approval(self) -> bool:
        """True when an operator must approve this step before it acts."""
        return self.approval == "required"


class RestartService(StepBase):
    """Restart the component where it is."""

    strategy: Literal["restart_service"]


class ReplaceInstance(StepBase):
    """Bring up a fresh instance in place of the failed one."""

    strategy: Literal["replace_instance"]
    timeout: Duration = timedelta(minutes=2)


class FailoverToStandby(StepBase):
    """Promote a standby in the same location and re-point clients to it."""

    strategy: Literal["failover_to_standby"]
    timeout: Duration = timedelta(minutes=2)
    standby: str | None = Field(None, description="standby component; default: spec.standby")


_TARGET = re.compile(
    r"^(latest|before_failure|\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)$"
)


class RestoreFromBackup(StepBase):
    """Restore the newest recovery point before ``target`` (damaged data is moved aside)."""

    strategy: Literal["restore_from_backup"]
    timeout: Duration = timedelta(minutes=10)
    target: str = Field("latest", description="latest | before_failure | an ISO 8601 timestamp")

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, str) and not _TARGET.match(value):
            raise ValueError(
                "must be latest, before_failure or a timestamp like 2026-11-25T14:30:00Z"
            )
        return value


class ScaleOut(StepBase):
    """Start more instances beside the failed one."""

    strategy: Literal["scale_out"]
    count: int = Field(1, ge=1, le=100)


class Run(StepBase):
    """Run a user's command (argv; no shell unless asked) or function."""

    strategy: Literal["run"]
    shell: bool = Field(False, description="run the command string through /bin/sh -c")
    command: Argv | None = None
    function: str | None = Field(
        None, description="a Lambda function name/ARN (aws) or module:function"
    )

    _split = field_validator("command", mode="before")(_argv)

    @model_validator(mode="after")
    def _one_action(self) -> Run:
        if (self.command is None) == (self.function is None):
            raise ValueError("give exactly one of command or function")
        return self


Strategy = Annotated[
    RestartService | ReplaceInstance | FailoverToStandby | RestoreFromBackup | ScaleOut | Run,
    Field(discriminator="strategy"),
]


# ---------------------------------------------------------------- component-level policy


class Budget(StrictModel):
    """How many recoveries a component may have in a window before the circuit opens."""

    recoveries: int = Field(3, ge=1, le=1000)
    window: Duration = timedelta(minutes=10)
    backoff: Duration = Field(
        timedelta(seconds=1), description="wait before the second attempt; doubles"
    )
    backoff_max: Duration = timedelta(seconds=30)


class Flapping(StrictModel):
    """How many incidents in a window still recover; one more opens escalated, as flapping."""

    incidents: int = Field(
        3, ge=1, le=1000, description="incidents in the window that still start a recovery"
    )
    window: Duration = timedelta(minutes=10)

    @field_validator("window")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be above 0s")
        return value


class Drills(StrictModel):
    """Whether and when faults may be injected on purpose."""

    allowed: bool = False
    window: str | None = Field(None, description='e.g. "Sat 02:00-04:00" (agent local time)')
    faults: list[str] = Field(
        default_factory=list, description="allowed faults; empty: all the provider offers"
    )
    schedule: str | None = Field(None, description="cron expression for scheduled drills")
    abort_after: Duration | None = Field(None, description="default: 2 × rto")

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        from paramedic.drills.window import parse_window  # here: drills imports the catalog

        if value is not None:
            parse_window(value)
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None and (not croniter.is_valid(value) or len(value.split()) != 5):
            raise ValueError("must be a cron expression of 5 fields like '0 3 * * 6'")
        return value


class Component(StrictModel):
    """One thing that can fail and be recovered."""

    type: ComponentType
    location: str | None = Field(None, description="default: the catalog's location")
    constraint: str = Field("", description="why it cannot be in several locations")
    criticality: Criticality = Criticality.standard
    rto: Duration
    rpo: Duration
    depends_on: list[str] = Field(default_factory=list)
    provider: str
    spec: dict[str, Any] = Field(default_factory=dict, description="provider settings")
    health: HealthCheck
    backup: Backup | None = None
    recovery: list[Strategy] = Field(default_factory=list)
    budget: Budget = Budget()
    flapping: Flapping = Flapping()
    drills: Drills = Drills()
    aws: AwsSettings | None = Field(None, description="overrides the catalog's aws settings")
    alerts: AlertSettings = AlertSettings()
    agent_tags: list[str] = Field(
        default_factory=list,
        description="several agents: only agents carrying every one of these tags (agent.tags) "
        "may own this component; `host:NAME` pins it to the agents on host NAME",
    )

    @field_validator("depends_on")
    @classmethod
    def _unique_deps(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists a dependency twice")
        return value


class NotifyRoute(StrictModel):
    """Where notifications go (any Apprise URL) and for which events."""

    name: str = Field(pattern=NAME_PATTERN)
    url: str = Field(min_length=3, description="an Apprise URL; tokens in it are never logged")
    events: list[Event] = Field(default_factory=lambda: list(Event))
    only_after_retries: bool = Field(
        False, description="stay quiet until the recovery ladder is exhausted"
    )
    escalation: bool = Field(
        False,
        description="escalation route: notified only when an incident outlives the RTO or is escalated",
    )


class Agent(StrictModel):
    """Settings of the long-running agent."""

    stop_processes_on_exit: bool = Field(True, description="stop owned processes on SIGTERM/SIGINT")
    check_concurrency: int = Field(256, ge=1, le=100_000)
    log_dir: str = Field("./var/log", description="per-component logs of owned processes")
    run_dir: str = Field(
        "./var/run", description="pid files and per-incident markers of owned processes"
    )
    events_queue: str | None = Field(
        None,
        description="AWS: SQS queue (URL or name) an EventBridge rule feeds with EC2, RDS and "
        "CloudWatch alarm events; the agent opens incidents on them at once "
        "(`paramedic aws wire-events` creates it)",
    )
    metrics_namespace: str | None = Field(
        None, description="AWS: publish health, incidents and measured RTO/RPO to CloudWatch"
    )
    drift_check: Duration | None = Field(
        None,
        description="run `paramedic discover --against` this catalog this often (e.g. 1d) and "
        "notify drift_found",
    )
    claims: str | None = Field(
        None,
        pattern=r"^dynamodb://",
        description="AWS: dynamodb://TABLE_PREFIX: agents claim each recovery exactly once "
        "through DynamoDB conditional writes and mirror incidents and the audit log there",
    )
    heartbeat: Duration = Field(
        timedelta(seconds=2),
        description="several agents on one PostgreSQL: how often this agent renews its lease",
    )
    lease_ttl: Duration = Field(
        timedelta(seconds=10),
        description="a lease not renewed for this long (by the database's clock) is dead and "
        "its components go to the other agents; at least 3 × heartbeat",
    )
    tags: list[str] = Field(
        default_factory=list,
        description="what this agent can reach; components with agent_tags go only to agents "
        "carrying all of them (every agent also carries host:HOSTNAME)",
    )

    @model_validator(mode="after")
    def _lease_outlives_heartbeats(self) -> Agent:
        # Patroni's rule (loop_wait + 2 x retry_timeout ≤ ttl): two renewals may fail in a row
        # before the lease ends, and the agent stands down one heartbeat before it does.
        if self.heartbeat.total_seconds() <= 0:
            raise ValueError("heartbeat must be longer than 0s")
        if self.heartbeat * 3 > self.lease_ttl:
            raise ValueError(
                f"lease_ttl must be at least 3 × heartbeat ({format_duration(self.heartbeat * 3)}), "
                f"not {format_duration(self.lease_ttl)}; raise agent.lease_ttl or lower "
                "agent.heartbeat"
            )
        return self


STATE_SCHEMES = (
    "sqlite",
    "sqlite+pysqlite",
    "postgresql",
    "postgres",
    "postgresql+psycopg",
    "postgresql+psycopg2",
)
"""URL schemes the state store opens (``paramedic.store.connect.parse_target``)."""


def _state_url(value: Any) -> Any:
    """Refuse at validation what the store would refuse only at ``run``: another scheme, or an
    SQLite URL naming no file. Only the scheme is quoted: the rest may hold a password."""
    if not isinstance(value, str):
        return value
    scheme, sep, rest = value.partition("://")
    if not sep or scheme.lower() not in STATE_SCHEMES:
        found = f"found {scheme!r}" if sep else "found no scheme"
        raise ValueError(
            f"must be sqlite:///FILE or postgresql://user@host/db ({found}); "
            "those are the state stores paramedic supports"
        )
    if scheme.lower().startswith("sqlite") and rest.lstrip("/") in ("", ":memory:"):
        raise ValueError("must name a file: sqlite:///paramedic.db or sqlite:////abs/path.db")
    return value


class Catalog(StrictModel):
    """A whole catalog file."""

    version: Literal[1]
    location: str = "default"
    state: str = Field("sqlite:///paramedic.db", description="sqlite:///FILE or postgresql://…")
    notify: list[NotifyRoute] = Field(default_factory=list)
    agent: Agent = Agent()
    aws: AwsSettings = Field(
        default_factory=AwsSettings, description="region, profile, endpoint_url of AWS components"
    )
    api: ApiSettings = ApiSettings()
    components: dict[ComponentName, Component] = Field(min_length=1)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)
    _state_scheme = field_validator("state", mode="before")(_state_url)
    _source: str = PrivateAttr(default="<catalog>")

    @model_validator(mode="after")
    def _bind_aws_checks(self) -> Catalog:
        for name, component in self.components.items():
            if isinstance(component.health, AwsCheckBase):
                component.health.bind(name, component.spec, self.aws_for(name))
        return self

    def aws_for(self, name: str) -> AwsSettings:
        """The AWS settings of component ``name``: the catalog's, overridden by the component's."""
        return self.aws.merged(self.components[name].aws)

    def with_origin(self, source: str, base_dir: Path) -> Catalog:
        """This catalog, remembering the file it came from; relative paths resolve against its folder."""
        self._source = source
        self._base_dir = base_dir
        return self

    @property
    def source(self) -> str:
        """The file this catalog was loaded from."""
        return self._source

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the catalog are relative to (the catalog file's folder)."""
        return self._base_dir

    def resolve_path(self, path: str) -> Path:
        """``path`` made absolute against the catalog's folder (``~`` expanded)."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else (self._base_dir / candidate).resolve()

    def state_url(self) -> str:
        """``state`` with a relative SQLite file resolved against the catalog's folder."""
        prefix = "sqlite:///"
        if self.state.startswith(prefix) and not self.state.startswith(prefix + "/"):
            rest = self.state[len(prefix) :]
            if rest and rest != ":memory:":
                return prefix + str(self.resolve_path(rest))
        return self.state

    def location_of(self, name: str) -> str:
        """The component's own location, else the catalog's."""
        return self.components[name].location or self.location
