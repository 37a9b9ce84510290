"""The aws.elasticache provider and the aws.elasticache_status check.

moto's server: clusters, snapshots, tags, Route 53. moto has no RebootCacheCluster and
shows no CacheNodes (no endpoints), so the reboot and the Route 53 re-pointing of a
restore drive the ``elasticache`` client with botocore's Stubber and AWS's documented
responses (Route 53 itself stays moto's).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from paramedic.catalog.model import RestartService, RestoreFromBackup
from paramedic.checks.registry import run_check
from paramedic.clock import RealClock
from paramedic.providers.aws import session
from paramedic.providers.aws.elasticache import ElastiCacheProvider, restored_cluster_id
from paramedic.providers.registry import build_provider
from tests.aws_server import MotoAccount
from tests.integration.aws.data_setup import action, load, write_catalog

pytestmark = pytest.mark.integration

INCIDENT = "inc-20261125T120000-sessions-ab12"
ARN = "arn:aws:elasticache:us-east-1:123456789012:cluster:"


def _component(**spec: Any) -> dict[str, Any]:
    return {
        "type": "cache",
        "criticality": "important",
        "rto": "30m",
        "rpo": "1h",
        "provider": "aws.elasticache",
        "spec": {"cache_cluster_id": "sessions", **spec},
        "health": {"check": "aws.elasticache_status", "interval": "1s", "timeout": "5s"},
        "recovery": [{"strategy": "restart_service"}, {"strategy": "restore_from_backup"}],
    }


def _provider(tmp_path: Path, moto: MotoAccount, **spec: Any) -> ElastiCacheProvider:
    catalog = load(write_catalog(tmp_path, moto, {"sessions": _component(**spec)}))
    provider = build_provider(catalog, "sessions")
    assert isinstance(provider, ElastiCacheProvider)
    return provider


def _cluster(moto: MotoAccount) -> None:
    ec = moto.client("elasticache")
    ec.create_cache_cluster(
        CacheClusterId="sessions", Engine="redis", CacheNodeType="cache.t3.small", NumCacheNodes=1
    )
    ec.create_snapshot(SnapshotName="sessions-nightly", CacheClusterId="sessions")


def _described(
    cluster_id: str, status: str = "available", node: str = "available"
) -> dict[str, Any]:
    return {
        "CacheClusters": [
            {
                "CacheClusterId": cluster_id,
                "ARN": ARN + cluster_id,
                "CacheClusterStatus": status,
                "CacheNodeType": "cache.t3.small",
                "NumCacheNodes": 1,
                "CacheClusterCreateTime": datetime.now(UTC),
                "CacheSubnetGroupName": "cache-subnets",
                "SecurityGroups": [{"SecurityGroupId": "sg-0123", "Status": "active"}],
                "CacheNodes": [
                    {
                        "CacheNodeId": "0001",
                        "CacheNodeStatus": node,
                        "Endpoint": {
                            "Address": f"{cluster_id}.abc123.0001.use1.cache.amazonaws.com",
                            "Port": 6379,
                        },
                    }
                ],
            }
        ]
    }


async def test_probe_passes_when_available_and_fails_when_missing(
    tmp_path: Path, moto: MotoAccount
) -> None:
    _cluster(moto)
    provider = _provider(tmp_path, moto)
    health = provider.catalog.components["sessions"].health
    result = await run_check(health, clock=RealClock())
    assert result.ok and result.detail == "cache cluster sessions is available (1 node(s))"
    moto.client("elasticache").delete_cache_cluster(CacheClusterId="sessions")
    result = await run_check(health, clock=RealClock())
    assert result.summary in {
        "error: cache cluster sessions: CacheClusterNotFound",
        "bad_response: cluster sessions is deleting",
    }


async def test_probe_fails_on_a_node_not_available(tmp_path: Path, moto: MotoAccount) -> None:
    provider = _provider(tmp_path, moto)
    health = provider.catalog.components["sessions"].health
    client = session.client(provider.settings, "elasticache")
    with Stubber(client) as stub:
        stub.add_response("describe_cache_clusters", {"CacheClusters": []})
        stub.add_response(
            "describe_cache_clusters", _described("sessions", node="rebooting cache cluster nodes")
        )
        result = await run_check(health, clock=RealClock())
    assert result.summary == "bad_response: node 0001 of sessions is rebooting cache cluster nodes"


async def test_restart_reboots_every_node(tmp_path: Path, moto: MotoAccount) -> None:
    provider = _provider(tmp_path, moto)
    client = session.client(provider.settings, "elasticache")
    with Stubber(client) as stub:
        stub.add_response("describe_cache_clusters", {"CacheClusters": []})
        stub.add_response("describe_cache_clusters", _described("sessions"))
        stub.add_response(
            "reboot_cache_cluster",
            {
                "CacheCluster": _described("sessions", "rebooting cache cluster nodes")[
                    "CacheClusters"
                ][0]
            },
            {"CacheClusterId": "sessions", "CacheNodeIdsToReboot": ["0001"]},
        )
        stub.add_response(
            "describe_cache_clusters", _described("sessions", "rebooting cache cluster nodes")
        )
        stub.add_response("describe_cache_clusters", _described("sessions"))
        result = await provider.carry_out(
            RestartService(strategy="restart_service"), action(provider.catalog, "sessions")
        )
        stub.assert_no_pending_responses()
    assert result.output == "rebooted nodes 0001 of cache cluster sessions"


async def test_restore_creates_a_new_cluster_from_the_newest_snapshot(
    tmp_path: Path, moto: MotoAccount
) -> None:
    _cluster(moto)
    provider = _provider(tmp_path, moto)
    step = RestoreFromBackup(strategy="restore_from_backup")
    result = await provider.carry_out(step, action(provider.catalog, "sessions", INCIDENT))
    new_id = restored_cluster_id("sessions", INCIDENT)
    ec = moto.client("elasticache")
    clusters = {c["CacheClusterId"]: c for c in ec.describe_cache_clusters()["CacheClusters"]}
    assert set(clusters) == {"sessions", new_id}, "the old cluster is kept"
    found = ec.list_tags_for_resource(ResourceName=clusters[new_id]["ARN"])["TagList"]
    tags = {t["Key"]: t["Value"] for t in found}
    assert tags["paramedic:incident"] == INCIDENT
    assert tags["paramedic:replaces"] == "sessions"
    assert result.detail["from"] == "snapshot sessions-nightly"
    again = await provider.carry_out(step, action(provider.catalog, "sessions", INCIDENT))
    assert len(ec.describe_cache_clusters()["CacheClusters"]) == 2
    assert again.detail["from"] == "an earlier attempt of this step"
    check = await run_check(provider.catalog.components["sessions"].health, clock=RealClock())
    assert check.ok and new_id in check.detail, "the check follows the restored cluster"


async def test_restore_repoints_route53_to_the_new_endpoint(
    tmp_path: Path, moto: MotoAccount
) -> None:
    r53 = moto.client("route53")
    zone = r53.create_hosted_zone(Name="internal.example", CallerReference="c")["HostedZone"]["Id"]
    record = {"zone_id": zone, "name": "sessions.internal.example"}
    provider = _provider(tmp_path, moto, route53=record)
    new_id = restored_cluster_id("sessions", INCIDENT)
    taken = datetime.now(UTC) - timedelta(hours=2)
    client = session.client(provider.settings, "elasticache")
    with Stubber(client) as stub:
        stub.add_client_error(
            "describe_cache_clusters",
            "CacheClusterNotFound",
            expected_params={"CacheClusterId": new_id, "ShowCacheNodeInfo": True},
        )
        stub.add_response("describe_cache_clusters", _described("sessions"))
        stub.add_response("describe_cache_clusters", _described("sessions"))
        snapshot = {
            "SnapshotName": "sessions-auto",
            "SnapshotStatus": "available",
            "CacheClusterId": "sessions",
            "CacheNodeType": "cache.t3.small",
            "NodeSnapshots": [{"CacheNodeId": "0001", "SnapshotCreateTime": taken}],
        }
        stub.add_response(
            "describe_snapshots", {"Snapshots": [snapshot]}, {"CacheClusterId": "sessions"}
        )
        stub.add_response(
            "create_cache_cluster",
            {"CacheCluster": _described(new_id, "creating")["CacheClusters"][0]},
            {
                "CacheClusterId": new_id,
                "SnapshotName": "sessions-auto",
                "Tags": ANY,
                "CacheNodeType": "cache.t3.small",
                "CacheSubnetGroupName": "cache-subnets",
                "SecurityGroupIds": ["sg-0123"],
            },
        )
        stub.add_response("describe_cache_clusters", _described(new_id, "creating"))
        stub.add_response("describe_cache_clusters", _described(new_id))
        result = await provider.carry_out(
            RestoreFromBackup(strategy="restore_from_backup"),
            action(provider.catalog, "sessions", INCIDENT),
        )
        stub.assert_no_pending_responses()
    sets = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    cname = next(s for s in sets if s["Type"] == "CNAME")
    assert cname["ResourceRecords"][0]["Value"] == f"{new_id}.abc123.0001.use1.cache.amazonaws.com"
    assert result.recovery_point_at == taken
