"""Specs and capabilities of the local data providers (PostgreSQL, Redis, file trees, HAProxy).

Their implementations arrive with the "Data recovery" work; until then the
catalog validates their settings and ``plan`` knows what they will do, and
running one says plainly that it is not built yet.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from paramedic.catalog.duration import Duration
from paramedic.catalog.model import BackupEngine, ComponentType, StrategyName
from paramedic.providers.base import ProviderInfo, SpecModel


class PostgresSpec(SpecModel):
    """A PostgreSQL cluster paramedic manages."""

    data_dir: str
    port: int = Field(5432, ge=1, le=65535)
    host: str = "127.0.0.1"
    bin_dir: str | None = Field(
        None,
        description="folder of pg_ctl, pg_basebackup, pg_waldump; default: PATH, else "
        "/usr/lib/postgresql/<the cluster's version>/bin, else the newest installed",
    )
    user: str | None = Field(
        None,
        description="OS user that owns the cluster (programs run as it through runuser when "
        "the agent is root); default: the agent's",
    )
    superuser: str = Field(
        "postgres",
        description="database role paramedic connects as (backups, restores, checks); "
        "authenticated by trust, peer or ~/.pgpass",
    )
    standby: str | None = Field(
        None, description="component name of a streaming standby in the same location"
    )
    load_balancer: str | None = Field(
        None, description="haproxy component that routes clients here"
    )


class RedisSpec(SpecModel):
    """A redis-server paramedic manages."""

    port: int = Field(6379, ge=1, le=65535)
    host: str = "127.0.0.1"
    dir: str = Field(description="the server's working folder (dump.rdb, appendonly files)")
    config: str | None = Field(None, description="redis.conf to start the server with")
    binary: str = Field("redis-server", description="redis-server program (PATH or a path)")
    user: str | None = Field(
        None, description="OS user the server runs as (through setpriv when the agent is root)"
    )
    stop_grace: Duration = Field(
        timedelta(seconds=10),
        description="wait after SHUTDOWN SAVE, then after SIGTERM, before SIGKILL; "
        "raise it for large datasets",
    )


class FilesSpec(SpecModel):
    """A file tree backed up with restic."""

    path: str = Field(description="the folder backed up and restored")
    password_file: str | None = Field(
        None,
        description="restic repository password file; default: REPOSITORY.password, "
        "created (mode 0600) on first use",
    )
    binary: str = Field("restic", description="restic program (PATH or a path)")


class HaproxySpec(SpecModel):
    """An HAProxy paramedic manages, and through which other providers re-point clients."""

    config: str = Field(description="haproxy.cfg paramedic starts HAProxy with")
    stats_socket: str = Field(
        description="runtime API socket; the config must declare "
        "`stats socket PATH mode 600 level admin expose-fd listeners`"
    )
    binary: str = Field("haproxy", description="haproxy program (PATH, then /usr/sbin)")
    pidfile: str | None = Field(None, description="haproxy -p file; default: in the run dir")
    backend: str | None = Field(None, description="backend whose servers this load balancer fronts")


_RESTART_RESTORE = frozenset(
    {StrategyName.restart_service, StrategyName.restore_from_backup, StrategyName.run}
)

POSTGRES = ProviderInfo(
    name="postgres",
    summary="a PostgreSQL cluster: WAL archiving, base backups, point-in-time restore, standby failover",
    types=frozenset({ComponentType.database}),
    strategies=_RESTART_RESTORE | {StrategyName.failover_to_standby},
    backup_engines=frozenset({BackupEngine.pg_basebackup, BackupEngine.pgbackrest}),
    spec_model=PostgresSpec,
    faults=("kill-postmaster", "delete-data", "corrupt-relation", "stop"),
    implementation="paramedic.providers.local.postgres:PostgresProvider",
    host_bound=True,
    requires=("psycopg",),
)
REDIS = ProviderInfo(
    name="redis",
    summary="a redis-server: RDB snapshots, restore",
    types=frozenset({ComponentType.cache, ComponentType.message_queue, ComponentType.database}),
    strategies=_RESTART_RESTORE,
    backup_engines=frozenset({BackupEngine.redis_rdb}),
    spec_model=RedisSpec,
    faults=("kill", "delete-data", "hang"),
    implementation="paramedic.providers.local.redis:RedisProvider",
    host_bound=True,
    requires=("redis",),
)
FILES = ProviderInfo(
    name="files",
    summary="a file tree backed up with restic",
    types=frozenset({ComponentType.file_system}),
    strategies=frozenset({StrategyName.restore_from_backup, StrategyName.run}),
    backup_engines=frozenset({BackupEngine.restic}),
    spec_model=FilesSpec,
    faults=("delete-tree", "corrupt-files"),
    implementation="paramedic.providers.local.files:FilesProvider",
    host_bound=True,
)
HAPROXY = ProviderInfo(
    name="haproxy",
    summary="an HAProxy load balancer: restart, reload, re-point backend servers",
    types=frozenset({ComponentType.load_balancer}),
    strategies=frozenset({StrategyName.restart_service, StrategyName.run}),
    spec_model=HaproxySpec,
    faults=("kill",),
    implementation="paramedic.providers.local.haproxy:HaproxyProvider",
    host_bound=True,
)
