"""Probes of the AWS data checks: ``aws.rds_status`` and ``aws.elasticache_status``.

``aws.rds_status`` passes when the DB instance is ``available`` and, with ``dsn``, its
query answers (the ``postgres`` probe runs it). ``aws.elasticache_status`` passes when
the cluster and every node are ``available``. Without an identifier in the check, both
watch the instance or cluster serving the component now (after a restore cut over by
Route 53, the restored one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from paramedic.catalog.aws import ElastiCacheStatusCheck, RdsStatusCheck
from paramedic.catalog.model import PostgresCheck
from paramedic.checks.probe import ProbeContext, Verdict, failed, passed
from paramedic.checks.result import FailureClass
from paramedic.errors import ProviderError
from paramedic.providers.aws.data_specs import ElastiCacheSpec, RdsSpec

IAM_ACTIONS: dict[str, tuple[str, ...]] = {
    "check:aws.rds_status": ("rds:DescribeDBInstances",),
    "check:aws.elasticache_status": (
        "elasticache:DescribeCacheClusters",
        "elasticache:ListTagsForResource",
    ),
}
"""IAM actions each check calls."""

_MISSING = frozenset({"DBInstanceNotFound", "CacheClusterNotFound"})


def _failure(exc: ProviderError, what: str) -> Verdict:
    code = getattr(exc, "code", None)
    if code in _MISSING:
        return failed(FailureClass.error, f"{what}: {code}")
    return failed(FailureClass.error, str(exc))


async def probe_rds_status(check: RdsStatusCheck, ctx: ProbeContext) -> Verdict:
    """The instance's DBInstanceStatus is ``available``; with ``dsn`` the query answers too."""
    from paramedic.providers.aws.rds_instances import current_identifier, describe_instance

    try:
        ident = check.db_instance_identifier
        if ident is None:
            ident = await current_identifier(check.settings, RdsSpec.model_validate(check.spec))
        instance = await describe_instance(check.settings, ident)
    except ValidationError as exc:
        return failed(FailureClass.error, f"spec of {check.component}: {exc.errors()[0]['msg']}")
    except ProviderError as exc:
        return _failure(exc, f"DB instance {check.db_instance_identifier}")
    if instance is None:
        return failed(FailureClass.error, f"DB instance {ident}: DBInstanceNotFound")
    status = instance.get("DBInstanceStatus")
    if status != "available":
        return failed(FailureClass.bad_response, f"DB instance {ident} is {status}")
    if check.dsn is None:
        return passed(f"DB instance {ident} is available")
    from paramedic.checks.postgres import probe_postgres

    sql = PostgresCheck(check="postgres", dsn=check.dsn, query=check.query, timeout=check.timeout)
    verdict = await probe_postgres(sql, ctx)
    return Verdict(verdict.failure, f"DB instance {ident} is available; {verdict.detail}")


async def probe_elasticache_status(check: ElastiCacheStatusCheck, ctx: ProbeContext) -> Verdict:
    """The cluster's status and every node's are ``available``."""
    from paramedic.providers.aws.elasticache import current_cluster, describe_cluster, unavailable

    try:
        ident = check.cache_cluster_id
        if ident is None:
            ident = await current_cluster(
                check.settings, ElastiCacheSpec.model_validate(check.spec)
            )
        cluster = await describe_cluster(check.settings, ident)
    except ValidationError as exc:
        return failed(FailureClass.error, f"spec of {check.component}: {exc.errors()[0]['msg']}")
    except ProviderError as exc:
        return _failure(exc, f"cache cluster {check.cache_cluster_id}")
    if cluster is None:
        return failed(FailureClass.error, f"cache cluster {ident}: CacheClusterNotFound")
    why = unavailable(cluster)
    if why is not None:
        return failed(FailureClass.bad_response, why)
    nodes = len(cluster.get("CacheNodes", [])) or cluster.get("NumCacheNodes", 0)
    return passed(f"cache cluster {ident} is available ({nodes} node(s))")


PROBES: dict[str, Callable[[Any, ProbeContext], Awaitable[Verdict]]] = {
    "aws.rds_status": probe_rds_status,
    "aws.elasticache_status": probe_elasticache_status,
}
"""Check kind -> probe; registered by paramedic.checks.registry."""
