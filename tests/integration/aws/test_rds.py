"""The aws.rds provider and the aws.rds_status check against moto's server."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from paramedic.catalog.model import RestartService, RestoreFromBackup
from paramedic.checks.registry import run_check
from paramedic.clock import RealClock
from paramedic.errors import ProviderError
from paramedic.providers.aws.rds import RdsProvider
from paramedic.providers.aws.rds_restore import aside_name, restored_name
from paramedic.providers.base import FaultContext
from paramedic.providers.registry import build_provider
from tests.aws_server import MotoAccount
from tests.e2e.harness import paramedic
from tests.integration.aws.data_setup import (
    action,
    instances,
    load,
    placed_db,
    rds_component,
    tags,
    write_catalog,
)
from tests.servers import PostgresServer

pytestmark = pytest.mark.integration

INCIDENT = "inc-20261125T120000-orders-ab12"
RESTORE = RestoreFromBackup(strategy="restore_from_backup")


def _provider(tmp_path: Path, moto: MotoAccount, **spec: object) -> RdsProvider:
    catalog = load(write_catalog(tmp_path, moto, {"orders": rds_component(**spec)}))
    provider = build_provider(catalog, "orders")
    assert isinstance(provider, RdsProvider)
    return provider


def _placement(instance: dict[str, object]) -> tuple[object, ...]:
    return (
        instance["DBSubnetGroup"]["DBSubnetGroupName"],  # type: ignore[index]
        [g["VpcSecurityGroupId"] for g in instance["VpcSecurityGroups"]],  # type: ignore[attr-defined]
        [p["DBParameterGroupName"] for p in instance["DBParameterGroups"]],  # type: ignore[attr-defined]
        instance["DBInstanceClass"],
    )


async def test_probe_passes_when_available_and_fails_with_status_or_code(
    tmp_path: Path, moto: MotoAccount
) -> None:
    placed_db(moto)
    catalog = load(write_catalog(tmp_path, moto, {"orders": rds_component()}))
    health = catalog.components["orders"].health
    result = await run_check(health, clock=RealClock())
    assert result.ok, result.detail
    assert result.detail == "DB instance orders is available"
    moto.client("rds").stop_db_instance(DBInstanceIdentifier="orders")
    result = await run_check(health, clock=RealClock())
    assert result.summary == "bad_response: DB instance orders is stopped"
    moto.client("rds").start_db_instance(DBInstanceIdentifier="orders")
    moto.client("rds").delete_db_instance(DBInstanceIdentifier="orders", SkipFinalSnapshot=True)
    result = await run_check(health, clock=RealClock())
    assert result.summary == "error: DB instance orders: DBInstanceNotFound"


async def test_probe_with_dsn_runs_the_query_on_a_real_postgres(
    tmp_path: Path, moto: MotoAccount, postgres_server: PostgresServer
) -> None:
    placed_db(moto)
    component = rds_component()
    component["health"]["dsn"] = postgres_server.dsn
    component["health"]["query"] = "SELECT 42"
    catalog = load(write_catalog(tmp_path, moto, {"orders": component}))
    result = await run_check(catalog.components["orders"].health, clock=RealClock())
    assert result.ok, result.detail
    assert result.detail == "DB instance orders is available; SELECT 42 answered 42"
    component["health"]["dsn"] = "postgresql://postgres@127.0.0.1:1/postgres"
    catalog = load(write_catalog(tmp_path, moto, {"orders": component}))
    result = await run_check(catalog.components["orders"].health, clock=RealClock())
    assert not result.ok
    assert result.summary.startswith("refused: DB instance orders is available; connection refused")


async def test_restart_service_reboots_and_waits(tmp_path: Path, moto: MotoAccount) -> None:
    placed_db(moto)
    provider = _provider(tmp_path, moto)
    step = RestartService(strategy="restart_service")
    result = await provider.carry_out(step, action(provider.catalog, "orders"))
    assert result.output == "rebooted DB instance orders; it is available"
    moto.client("rds").delete_db_instance(DBInstanceIdentifier="orders", SkipFinalSnapshot=True)
    with pytest.raises(ProviderError, match="orders does not exist: a reboot cannot bring it back"):
        await provider.carry_out(step, action(provider.catalog, "orders"))


async def test_restore_renames_the_restored_instance_into_place(
    tmp_path: Path, moto: MotoAccount
) -> None:
    db = placed_db(moto)
    provider = _provider(tmp_path, moto)
    before = instances(moto)["orders"]
    result = await provider.carry_out(RESTORE, action(provider.catalog, "orders", INCIDENT))
    found = instances(moto)
    aside = aside_name("orders", INCIDENT)
    assert set(found) == {"orders", aside}
    restored, damaged = found["orders"], found[aside]
    assert _placement(restored) == (
        db.subnet_group,
        [db.security_group],
        [db.parameter_group],
        "db.t3.small",
    )
    assert restored["MultiAZ"] is False
    assert tags(restored)["team"] == "orders"
    assert tags(restored)["paramedic:incident"] == INCIDENT
    assert tags(restored)["paramedic:role"] == "restored"
    assert tags(damaged)["paramedic:role"] == "damaged"
    assert damaged["DbiResourceId"] == before["DbiResourceId"]
    assert result.recovery_point_at is not None
    assert result.detail["set_aside"] == aside
    assert f"renamed {restored_name('orders', INCIDENT)} to orders" in result.output

    again = await provider.carry_out(RESTORE, action(provider.catalog, "orders", INCIDENT))
    assert set(instances(moto)) == {"orders", aside}, "a repeated step restores nothing more"
    assert again.recovery_point_at == result.recovery_point_at
    assert "already renamed into orders" in again.output


async def test_restore_before_failure_aims_at_failed_at(tmp_path: Path, moto: MotoAccount) -> None:
    placed_db(moto)
    provider = _provider(tmp_path, moto)
    ctx = action(provider.catalog, "orders", INCIDENT)
    step = RestoreFromBackup(strategy="restore_from_backup", target="before_failure")
    result = await provider.carry_out(step, ctx)
    assert ctx.failed_at is not None
    assert result.recovery_point_at == ctx.failed_at.replace(microsecond=0)


async def test_restore_after_an_out_of_band_delete_uses_the_newest_snapshot(
    tmp_path: Path, moto: MotoAccount
) -> None:
    db = placed_db(moto)
    provider = _provider(tmp_path, moto)
    await provider.start()  # remembers the placement
    moto.client("rds").delete_db_instance(
        DBInstanceIdentifier="orders",
        FinalDBSnapshotIdentifier="orders-final",
        DeleteAutomatedBackups=False,
    )
    result = await provider.carry_out(RESTORE, action(provider.catalog, "orders", INCIDENT))
    found = instances(moto)
    assert set(found) == {"orders"}
    assert _placement(found["orders"])[:3] == (
        db.subnet_group,
        [db.security_group],
        [db.parameter_group],
    )
    assert result.detail["from"] == "snapshot orders-final of deleted orders"
    assert result.detail["set_aside"] is None
    assert result.recovery_point_at is not None


async def test_restore_after_a_delete_without_any_backup_says_so(
    tmp_path: Path, moto: MotoAccount
) -> None:
    placed_db(moto)
    provider = _provider(tmp_path, moto)
    moto.client("rds").delete_db_instance(DBInstanceIdentifier="orders", SkipFinalSnapshot=True)
    with pytest.raises(ProviderError, match="orders is gone and has no retained automated backup"):
        await provider.carry_out(RESTORE, action(provider.catalog, "orders", INCIDENT))


async def test_restore_with_route53_cutover_points_the_record_and_the_check_follows(
    tmp_path: Path, moto: MotoAccount
) -> None:
    placed_db(moto)
    r53 = moto.client("route53")
    zone = r53.create_hosted_zone(Name="internal.example", CallerReference="t")["HostedZone"]["Id"]
    record = {"zone_id": zone, "name": "orders.internal.example", "ttl": 30}
    provider = _provider(tmp_path, moto, cutover="route53", route53=record)
    result = await provider.carry_out(RESTORE, action(provider.catalog, "orders", INCIDENT))
    new_id = restored_name("orders", INCIDENT)
    found = instances(moto)
    assert set(found) == {"orders", new_id}, "route53 cut-over renames nothing"
    sets = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    cname = next(s for s in sets if s["Type"] == "CNAME")
    assert cname["Name"].rstrip(".") == "orders.internal.example"
    assert cname["ResourceRecords"][0]["Value"] == found[new_id]["Endpoint"]["Address"]
    assert "CNAME" in result.output
    moto.client("rds").stop_db_instance(DBInstanceIdentifier="orders")
    check = await run_check(provider.catalog.components["orders"].health, clock=RealClock())
    assert check.ok and new_id in check.detail
    # EventBridge events about the restored instance reach the component too
    from paramedic.providers.aws.events import AwsEvent, components_for

    about = AwsEvent(
        source="aws.rds",
        detail_type="RDS DB Instance Event",
        resources=(new_id,),
        state="failure",
        at=datetime.now(UTC),
        summary=f"RDS DB instance {new_id}: failure",
        failing=True,
    )
    assert await components_for(about, provider.catalog) == ["orders"]
    elsewhere = dataclasses.replace(about, resources=("someone-elses-db",))
    assert await components_for(elsewhere, provider.catalog) == []


async def test_faults_reboot_and_delete_with_a_final_snapshot(
    tmp_path: Path, moto: MotoAccount
) -> None:
    placed_db(moto)
    provider = _provider(tmp_path, moto)
    ctx = FaultContext(
        drill_id="orders-20261125T120000",
        component_name="orders",
        component=provider.catalog.components["orders"],
        catalog=provider.catalog,
    )
    rebooted = await provider.inject_fault("reboot-db", ctx)
    assert await provider.undo_fault(rebooted, ctx) == "nothing to undo: a reboot ends by itself"
    deleted = await provider.inject_fault("delete-db-instance", ctx)
    rds = moto.client("rds")
    assert "orders" not in instances(moto)
    snap = rds.describe_db_snapshots(DBSnapshotIdentifier="orders-drill-orders-20261125t120000")
    assert snap["DBSnapshots"][0]["SnapshotType"] == "manual"
    retained = rds.describe_db_instance_automated_backups()["DBInstanceAutomatedBackups"]
    assert any(b["DBInstanceIdentifier"] == "orders" for b in retained)
    assert "still gone" in await provider.undo_fault(deleted, ctx)
    await provider.carry_out(RESTORE, action(provider.catalog, "orders", INCIDENT))
    assert (await provider.undo_fault(deleted, ctx)).startswith(
        "nothing left to undo: orders is back"
    )
    with pytest.raises(ProviderError, match="offers the faults reboot-db, delete-db-instance"):
        await provider.inject_fault("kill", ctx)


def test_cli_restore_renames_into_place(tmp_path: Path, moto: MotoAccount) -> None:
    db = placed_db(moto)
    catalog = write_catalog(tmp_path, moto, {"orders": rds_component()})
    result = paramedic("restore", "orders", "--catalog", str(catalog), "--json", cwd=tmp_path)
    incident = json.loads(result.stdout)
    assert incident["state"] == "recovered", result.stdout
    found = instances(moto)
    aside = aside_name("orders", incident["id"])
    assert set(found) == {"orders", aside}
    assert _placement(found["orders"])[:3] == (
        db.subnet_group,
        [db.security_group],
        [db.parameter_group],
    )
    assert tags(found["orders"])["paramedic:incident"] == incident["id"]
    assert found[aside]["DBInstanceStatus"] == "available"


async def test_native_window_ends_at_the_latest_restorable_time(
    tmp_path: Path, moto: MotoAccount
) -> None:
    from paramedic.providers.aws.rds_instances import latest_restorable
    from paramedic.providers.base import NativeRecoveryPoints

    placed_db(moto)
    provider = _provider(tmp_path, moto)
    assert isinstance(provider, NativeRecoveryPoints)  # the agent watches its RPO exposure
    window = await provider.native_window()
    instance = moto.client("rds").describe_db_instances(DBInstanceIdentifier="orders")
    latest = latest_restorable(instance["DBInstances"][0])
    assert window.newest is not None and latest is not None
    # moto reports "now" as LatestRestorableTime at every call: the two reads are moments apart
    assert abs((latest - window.newest).total_seconds()) < 5
