"""The files provider against REAL restic: snapshots taken, verified and pruned; a damaged or
deleted tree restored, the damaged one kept aside; the password kept out of everything."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from paramedic.catalog.model import Catalog, Strategy
from paramedic.errors import ProviderError
from paramedic.providers.base import ActionContext, BackupContext
from paramedic.providers.local.datafiles import iso, move_aside
from paramedic.providers.local.files import FilesProvider
from paramedic.providers.local.step_marker import StepMarker
from paramedic.providers.registry import build_provider
from tests.servers import need_binary, scratch_dir

pytestmark = pytest.mark.integration


@dataclass
class Site:
    """A folder holding the ``docs`` tree and its restic repository."""

    base: Path
    logged: list[str] = field(default_factory=list)

    @property
    def tree(self) -> Path:
        """The folder paramedic backs up."""
        return self.base / "tree"

    @property
    def repository(self) -> Path:
        """The restic repository."""
        return self.base / "backups" / "docs"

    def catalog(self, **spec: Any) -> Catalog:
        """A one-component catalog: ``docs`` served by the files provider."""
        data = {
            "version": 1,
            "components": {
                "docs": {
                    "type": "file_system",
                    "rto": "5m",
                    "rpo": "1h",
                    "provider": "files",
                    "spec": {"path": str(self.tree), **spec},
                    "health": {"check": "command", "command": ["test", "-d", str(self.tree)]},
                    "backup": {
                        "engine": "restic",
                        "schedule": "0 * * * *",
                        "repository": str(self.repository),
                    },
                }
            },
        }
        return Catalog.model_validate(data).with_origin("paramedic.yaml", self.base)

    def backup_ctx(self, provider: FilesProvider, scratch: Path) -> BackupContext:
        """The context the backup service gives the provider (log lines kept in ``logged``)."""
        return BackupContext(
            component_name="docs",
            component=provider.catalog.components["docs"],
            catalog=provider.catalog,
            repository=self.repository,
            scratch=scratch,
            log=self.logged.append,
        )


@pytest.fixture(scope="module")
def empty_repository() -> Iterator[Path]:
    """One ``restic init``-ed repository (and its password file) that tests copy: init is slow."""
    restic = need_binary("restic", "restic")
    with scratch_dir("paramedic-restic-template-") as base:
        password = base / "docs.password"
        password.write_text("template password of the tests\n")
        password.chmod(0o600)
        env = {**os.environ, "RESTIC_PASSWORD_FILE": str(password)}
        subprocess.run(
            [restic, "-r", str(base / "docs"), "init"], env=env, check=True, capture_output=True
        )
        yield base


@pytest.fixture
def fresh_site() -> Iterator[Site]:
    """A tree of 20 files, no repository yet."""
    need_binary("restic", "restic")
    with scratch_dir("paramedic-files-provider-") as base:
        tree = base / "tree"
        (tree / "sub").mkdir(parents=True)
        for n in range(10):
            (tree / f"doc-{n}.txt").write_text(f"document {n}\n")
            (tree / "sub" / f"img-{n}.bin").write_bytes(os.urandom(5000))
        yield Site(base)


@pytest.fixture
def site(fresh_site: Site, empty_repository: Path) -> Site:
    """A tree of 20 files and an empty repository for it."""
    shutil.copytree(empty_repository, fresh_site.base / "backups")
    return fresh_site


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A scratch folder for verification restores."""
    with scratch_dir("paramedic-scratch-") as path:
        yield path


@pytest.fixture
def provider(site: Site) -> FilesProvider:
    """The provider of ``docs``."""
    return FilesProvider(catalog=site.catalog(), name="docs")


def step(**fields: Any) -> Strategy:
    """A strategy step as the catalog would hold it."""
    result: Strategy = TypeAdapter(Strategy).validate_python(fields)
    return result


def action(provider: FilesProvider, incident: str = "inc-1", **extra: Any) -> ActionContext:
    """The context the recovery workflow gives step 1."""
    return ActionContext(
        incident_id=incident,
        step_index=1,
        component_name="docs",
        component=provider.catalog.components["docs"],
        catalog=provider.catalog,
        **extra,
    )


def listing(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its content."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def write_marker(tree: Path, n: int) -> tuple[float, float]:
    """Write marker ``n`` whole (through a rename); (time before, time after)."""
    before = time.time()
    staged = tree.parent / f".marker-{n}"
    staged.write_text(f"{before:.6f}\n")
    staged.rename(tree / f"marker-{n}")
    return before, time.time()


def corrupt_a_pack(repository: Path) -> Path:
    """Overwrite bytes in the middle of the biggest pack file; its path."""
    pack = max((p for p in (repository / "data").rglob("*") if p.is_file()), key=os.path.getsize)
    pack.chmod(0o600)
    with pack.open("r+b") as file:
        file.seek(os.path.getsize(pack) // 2)
        file.write(b"X" * 64)
    return pack


class Writer:
    """Writes a marker file every 50 ms until stopped."""

    def __init__(self, tree: Path) -> None:
        self.tree = tree
        self.written: dict[str, tuple[float, float]] = {}
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Writer:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        n = 0
        while True:
            self.written[f"marker-{n}"] = write_marker(self.tree, n)
            n += 1
            await asyncio.sleep(0.05)


# ---------------------------------------------------------------- restore


async def test_restore_brings_back_the_snapshot_and_keeps_the_damaged_tree(
    site: Site, provider: FilesProvider, scratch: Path
) -> None:
    async with Writer(site.tree) as writer:
        await asyncio.sleep(0.5)
        point = await provider.take_backup(site.backup_ctx(provider, scratch))
        backup_ended = time.time()
        await asyncio.sleep(0.5)
    # The fault: half the documents deleted, one overwritten.
    for n in range(5):
        (site.tree / f"doc-{n}.txt").unlink()
    (site.tree / "doc-9.txt").write_text("garbage")
    damaged = listing(site.tree)

    result = await provider.carry_out(
        step(strategy="restore_from_backup"), action(provider, failed_at=datetime.now(UTC))
    )

    assert result.recovery_point_at == point.taken_at
    restored = listing(site.tree)
    taken = point.taken_at.timestamp()
    before = {name for name, (_start, end) in writer.written.items() if end < taken - 0.02}
    after = {name for name, (start, _end) in writer.written.items() if start > backup_ended}
    assert len(before) >= 5 and len(after) >= 5
    assert before <= restored.keys()
    assert not after & restored.keys()
    assert restored["doc-9.txt"] == b"document 9\n"
    assert all(f"doc-{n}.txt" in restored for n in range(10))
    aside = site.base / "tree.damaged-inc-1"
    assert listing(aside) == damaged
    assert result.output == (
        f"restore_from_backup of docs: snapshot {point.location[:8]} (taken "
        f"{iso(point.taken_at)}) restored from {site.repository}; moved aside (kept, not "
        f"deleted): {site.tree} → {aside}; {len(restored)} files in {site.tree}"
    )
    # Nothing else is left beside the tree: the restore's staging folder is gone.
    assert sorted(p.name for p in site.base.iterdir()) == [
        "backups",
        "tree",
        "tree.damaged-inc-1",
        "var",  # the step markers
    ]


async def test_restore_of_a_deleted_tree_repeated_is_done_once(
    site: Site, provider: FilesProvider, scratch: Path
) -> None:
    original = listing(site.tree)
    point = await provider.take_backup(site.backup_ctx(provider, scratch))
    shutil.rmtree(site.tree)
    restore = step(strategy="restore_from_backup")

    first = await provider.carry_out(restore, action(provider))
    again = await provider.carry_out(restore, action(provider))

    assert listing(site.tree) == original
    assert "nothing was in the way to move aside" in first.output
    assert again.output == f"{first.output} (already done for incident inc-1 step 1; not repeated)"
    assert again.recovery_point_at == first.recovery_point_at == point.taken_at
    assert sorted(p.name for p in site.base.iterdir()) == ["backups", "tree", "var"]


async def test_restore_before_failure_takes_the_snapshot_before_it(
    site: Site, provider: FilesProvider, scratch: Path
) -> None:
    ctx = site.backup_ctx(provider, scratch)
    first = await provider.take_backup(ctx)
    (site.tree / "later.txt").write_text("after the first snapshot")
    failed_at = datetime.now(UTC)
    await provider.take_backup(ctx)

    result = await provider.carry_out(
        step(strategy="restore_from_backup", target="before_failure"),
        action(provider, failed_at=failed_at),
    )

    assert result.recovery_point_at == first.taken_at
    assert not (site.tree / "later.txt").exists()
    assert (site.base / "tree.damaged-inc-1" / "later.txt").is_file()


async def test_a_failed_restore_leaves_the_damaged_tree_where_it_is(
    site: Site, provider: FilesProvider, scratch: Path
) -> None:
    point = await provider.take_backup(site.backup_ctx(provider, scratch))
    corrupt_a_pack(site.repository)
    (site.tree / "doc-0.txt").unlink()
    damaged = listing(site.tree)

    with pytest.raises(ProviderError) as exc:
        await provider.carry_out(step(strategy="restore_from_backup"), action(provider))

    message = str(exc.value)
    assert message.startswith(
        "component 'docs': snapshot "
        f"{point.location[:8]} could not be restored (restic restore exited with code 1: "
    )
    assert "ciphertext verification failed" in message
    assert message.endswith(
        f"); {site.tree} was left as it is; check the repository: "
        f"restic -r {site.repository} check --read-data"
    )
    assert listing(site.tree) == damaged
    assert not (site.base / "tree.damaged-inc-1").exists()


async def test_restore_without_a_snapshot_says_how_to_take_one(provider: FilesProvider) -> None:
    with pytest.raises(ProviderError) as exc:
        await provider.carry_out(step(strategy="restore_from_backup"), action(provider))
    assert str(exc.value) == (
        "component 'docs': no recovery point in the repository; "
        "take one with `paramedic backup docs`"
    )


# ---------------------------------------------------------------- backups


async def test_verify_passes_then_fails_on_a_corrupted_pack(
    site: Site, provider: FilesProvider, scratch: Path
) -> None:
    ctx = site.backup_ctx(provider, scratch)
    point = await provider.take_backup(ctx)
    short = point.location[:8]

    good = await provider.verify_backup(ctx, point)
    assert good.ok, good.detail
    assert good.detail == (
        f"snapshot {short} (taken {iso(point.taken_at)}): restored 20 of 20 files into "
        "scratch; restic check read 10% of the data without errors"
    )

    corrupt_a_pack(site.repository)
    bad = await provider.verify_backup(replace(ctx, scratch=scratch / "again"), point)
    assert not bad.ok
    damaged = [p for p in (site.repository / "data").glob("*/*") if p.is_file()]
    assert bad.detail.startswith(
        f"1 pack file(s) of {site.repository} no longer match their content hash "
        "(truncated or altered): "
    ), bad.detail
    assert any(bad.detail.endswith(p.name[:10]) for p in damaged)


async def test_points_window_and_prune_keep_the_newest(
    site: Site, provider: FilesProvider, scratch: Path
) -> None:
    ctx = site.backup_ctx(provider, scratch)
    taken = []
    for n in range(2):
        (site.tree / f"round-{n}.txt").write_text(str(n))
        taken.append(await provider.take_backup(ctx))

    points = await provider.recovery_points(ctx)
    assert [p.location for p in points] == [p.location for p in taken]
    assert [p.taken_at for p in points] == [p.taken_at for p in taken]
    window = await provider.restorable_window(ctx)
    assert (window.oldest, window.newest) == (taken[0].taken_at, taken[-1].taken_at)

    assert await provider.prune(ctx, timedelta(hours=1)) == []
    assert await provider.prune(ctx, timedelta(0)) == [taken[0].location[:8]]
    assert [p.location for p in await provider.recovery_points(ctx)] == [taken[-1].location]


async def test_the_password_is_created_once_and_never_shown(
    fresh_site: Site,
    scratch: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    site = fresh_site
    provider = FilesProvider(catalog=site.catalog(), name="docs")
    monkeypatch.setenv("RESTIC_PASSWORD", "not-the-password")  # the agent's own: ignored
    ctx = site.backup_ctx(provider, scratch)
    point = await provider.take_backup(ctx)
    password_file = site.base / "backups" / "docs.password"
    password = password_file.read_text().strip()

    assert password_file.stat().st_mode & 0o777 == 0o600
    assert site.logged[:2] == [
        f"created the restic password file {password_file} (mode 0600); keep a copy somewhere "
        "else: without it the backups cannot be read",
        f"initialized the restic repository {site.repository}",
    ]
    assert len(await provider.recovery_points(ctx)) == 1
    assert password_file.read_text().strip() == password
    restored = await provider.carry_out(step(strategy="restore_from_backup"), action(provider))
    shown = [*site.logged, caplog.text, repr(point), restored.output, repr(restored.detail)]
    assert f"component 'docs': created the restic password file {password_file}" in caplog.text
    assert len(password) >= 32
    assert not [text for text in shown if password in text]


async def test_a_missing_password_file_is_named(fresh_site: Site, scratch: Path) -> None:
    site = fresh_site
    provider = FilesProvider(catalog=site.catalog(password_file="secret/pw"), name="docs")
    with pytest.raises(ProviderError) as exc:
        await provider.take_backup(site.backup_ctx(provider, scratch))
    assert str(exc.value) == (
        f"component 'docs': spec.password_file {site.base}/secret/pw does not exist; "
        "create it (mode 0600) holding the restic repository's password"
    )


async def test_a_lost_password_file_is_not_replaced(
    site: Site, provider: FilesProvider, scratch: Path
) -> None:
    password_file = site.base / "backups" / "docs.password"
    password_file.unlink()
    with pytest.raises(ProviderError) as exc:
        await provider.recovery_points(site.backup_ctx(provider, scratch))
    assert str(exc.value) == (
        f"component 'docs': the restic password file {password_file} is missing and the "
        f"repository {site.repository} cannot be read without it; put it back"
    )
    assert not password_file.exists()


async def test_backup_of_a_missing_tree_says_so(
    site: Site, provider: FilesProvider, scratch: Path
) -> None:
    shutil.rmtree(site.tree)
    with pytest.raises(ProviderError) as exc:
        await provider.take_backup(site.backup_ctx(provider, scratch))
    assert str(exc.value) == (
        f"component 'docs': spec.path {site.tree} is not a folder; nothing to back up "
        "(restore it first, or fix spec.path)"
    )


async def test_run_and_the_registry(site: Site, provider: FilesProvider) -> None:
    assert isinstance(build_provider(site.catalog(), "docs"), FilesProvider)
    result = await provider.carry_out(
        step(strategy="run", command=["sh", "-c", "echo $PARAMEDIC_COMPONENT $PARAMEDIC_INCIDENT"]),
        action(provider),
    )
    assert result.output == "docs inc-1"
    with pytest.raises(ProviderError) as exc:
        await provider.carry_out(step(strategy="restart_service"), action(provider, "inc-2"))
    assert str(exc.value) == (
        "component 'docs': the files provider cannot carry out restart_service; "
        "use restore_from_backup or run"
    )


def test_moving_aside_resumed_after_a_crash_keeps_every_version(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "a.txt").write_text("first")
    aside = tmp_path / "tree.damaged-inc-1"
    # The agent died after recording the move, before renaming.
    marker = StepMarker(tmp_path / "inc-1.1.json", {"phase": "chosen", "aside": []})
    marker.advance("chosen", aside=[[str(tree), str(aside)]])

    assert move_aside([tree], "inc-1", marker) == [[str(tree), str(aside)]]
    assert (aside / "a.txt").read_text() == "first"
    assert move_aside([tree], "inc-1", marker) == [[str(tree), str(aside)]]
    tree.mkdir()  # something wrote there again before the restore finished
    (tree / "a.txt").write_text("second")
    again = tmp_path / "tree.damaged-inc-1.2"
    assert move_aside([tree], "inc-1", marker) == [[str(tree), str(aside)], [str(tree), str(again)]]
    assert (again / "a.txt").read_text() == "second"
