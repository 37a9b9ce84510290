"""Backup timing (pure) and the backup service's orchestration (a fake provider, a real SQLite store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from paramedic.backup import BackupService, next_run, rpo_exposure, verify_due
from paramedic.catalog.model import Catalog, Event
from paramedic.clock import FakeClock
from paramedic.errors import Refused
from paramedic.notify import RecordingNotifier
from paramedic.providers.base import (
    ActionResult,
    BackupContext,
    RecoveryPoint,
    RestorableWindow,
    Verification,
    default_repository,
)
from paramedic.store import Store

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_next_run_follows_cron() -> None:
    assert next_run("*/30 * * * *", T0) == T0 + timedelta(minutes=30)
    assert next_run("0 3 * * *", T0) == datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def test_verify_due() -> None:
    assert verify_due("daily", None, T0)
    assert not verify_due("daily", T0 - timedelta(hours=23), T0)
    assert verify_due("daily", T0 - timedelta(hours=24), T0)
    assert verify_due("weekly", T0 - timedelta(days=7), T0)
    assert not verify_due("after_backup", None, T0)
    assert not verify_due("never", None, T0)


def test_rpo_exposure_warns_before_the_breach() -> None:
    rpo = timedelta(minutes=1)
    fine = rpo_exposure("db", T0 - timedelta(seconds=30), rpo, T0)
    assert not fine.at_risk and not fine.breached
    assert fine.reason == "db: newest restorable data is 30s old (RPO 1m)"
    risk = rpo_exposure("db", T0 - timedelta(seconds=50), rpo, T0)
    assert risk.at_risk and not risk.breached
    assert (
        risk.reason == "db: newest restorable data is 50s old, 10s before the RPO of 1m is breached"
    )
    past = rpo_exposure("db", T0 - timedelta(seconds=90), rpo, T0)
    assert (
        past.breached
        and past.reason == "db: newest restorable data is 1m30s old, past the RPO of 1m"
    )
    none = rpo_exposure("db", None, rpo, T0)
    assert none.breached and none.reason == "db has no restorable point at all (RPO 1m)"


class FakeBackups:
    """Keeps recovery points in memory; verification fails when told to."""

    def __init__(self, clock: FakeClock, good: bool = True) -> None:
        self.clock = clock
        self.good = good
        self.points: list[RecoveryPoint] = []
        self.pruned: list[timedelta] = []

    async def start(self) -> None:
        pass

    async def close(self, stop_owned: bool) -> None:
        pass

    async def carry_out(self, step: Any, ctx: Any) -> ActionResult:
        return ActionResult()

    def describe(self, step: Any) -> str:
        return "nothing"

    async def take_backup(self, ctx: BackupContext) -> RecoveryPoint:
        assert ctx.repository.is_dir()
        point = RecoveryPoint(
            self.clock.now(), f"{ctx.repository}/{len(self.points)}", "restic", 10, "abc"
        )
        self.points.append(point)
        self.clock.advance(60)
        return point

    async def recovery_points(self, ctx: BackupContext) -> list[RecoveryPoint]:
        return list(self.points)

    async def restorable_window(self, ctx: BackupContext) -> RestorableWindow:
        if not self.points:
            return RestorableWindow(None, None)
        return RestorableWindow(self.points[0].taken_at, self.points[-1].taken_at)

    async def verify_backup(self, ctx: BackupContext, point: RecoveryPoint) -> Verification:
        return Verification(self.good, "3 files restored" if self.good else "pack 1a2b truncated")

    async def prune(self, ctx: BackupContext, keep: timedelta) -> list[str]:
        self.pruned.append(keep)
        return []


def _catalog(tmp_path: Path, verify: str = "never", backup: bool = True) -> Catalog:
    component: dict[str, Any] = {
        "type": "file_system",
        "rto": "5m",
        "rpo": "1h",
        "provider": "files",
        "spec": {"path": "/srv/data"},
        "health": {"check": "command", "command": ["true"]},
    }
    if backup:
        component["backup"] = {
            "engine": "restic",
            "schedule": "0 * * * *",
            "keep": "2d",
            "verify": verify,
        }
    catalog = Catalog.model_validate({"version": 1, "components": {"data": component}})
    return catalog.with_origin(str(tmp_path / "paramedic.yaml"), tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'state.db'}")


async def test_take_records_the_point_and_prunes(tmp_path: Path, store: Store) -> None:
    clock = FakeClock(T0)
    fake = FakeBackups(clock)
    service = BackupService(_catalog(tmp_path), store, clock, providers={"data": fake})  # type: ignore[dict-item]
    row = await service.take("data")
    assert row.taken_at == T0 and row.engine == "restic" and row.checksum == "abc"
    assert [p.location for p in store.recovery_points("data")] == [row.location]
    assert fake.pruned == [timedelta(days=2)]
    assert default_repository(service.catalog, "data") == tmp_path / "var" / "backups" / "data"


async def test_inventory_mirrors_the_repository_and_gives_the_window(
    tmp_path: Path, store: Store
) -> None:
    clock = FakeClock(T0)
    fake = FakeBackups(clock)
    service = BackupService(_catalog(tmp_path), store, clock, providers={"data": fake})  # type: ignore[dict-item]
    ctx_points = [await fake.take_backup(_ctx(tmp_path, service)) for _ in range(2)]
    inventory = await service.inventory("data")
    assert [p.location for p in inventory.points] == [p.location for p in ctx_points]
    assert inventory.window == RestorableWindow(T0, T0 + timedelta(minutes=1))


def _ctx(tmp_path: Path, service: BackupService) -> BackupContext:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    return BackupContext(
        "data", service.catalog.components["data"], service.catalog, repo, tmp_path
    )


async def test_failed_verification_opens_an_escalated_incident_and_notifies(
    tmp_path: Path, store: Store
) -> None:
    clock = FakeClock(T0)
    notifier = RecordingNotifier()
    fake = FakeBackups(clock, good=False)
    service = BackupService(
        _catalog(tmp_path, verify="after_backup"),
        store,
        clock,
        notifier=notifier,
        providers={"data": fake},  # type: ignore[dict-item]
    )
    await service.take("data")
    point = store.recovery_points("data")[0]
    assert point.verified_ok is False and point.verify_detail == "pack 1a2b truncated"
    incident = store.incidents("data")[0]
    assert (incident.kind, incident.state) == ("verification", "escalated")
    assert incident.reason == "backup verification failed: pack 1a2b truncated"
    assert store.open_incident_of("data") is None  # a bad backup never blocks a real recovery
    assert [n.event for n in notifier.notices] == [Event.verification_failed]


async def test_good_verification_is_recorded(tmp_path: Path, store: Store) -> None:
    clock = FakeClock(T0)
    fake = FakeBackups(clock)
    service = BackupService(
        _catalog(tmp_path, verify="after_backup"), store, clock, providers={"data": fake}
    )  # type: ignore[dict-item]
    await service.take("data")
    point = store.recovery_points("data")[0]
    assert point.verified_ok is True and point.verify_detail == "3 files restored"
    assert store.incidents("data") == []


async def test_a_component_without_backup_is_refused(tmp_path: Path, store: Store) -> None:
    service = BackupService(_catalog(tmp_path, backup=False), store, FakeClock(T0))
    with pytest.raises(Refused) as exc:
        await service.take("data")
    assert str(exc.value) == (
        "component 'data' has no backup configured; add components.data.backup (engine, schedule, keep)"
    )
