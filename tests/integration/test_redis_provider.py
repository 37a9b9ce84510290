"""The redis provider against REAL redis-servers it starts itself: snapshots taken, verified and
pruned; restart keeping the data; restore after the data was destroyed; AOF; adoption."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio
from pydantic import TypeAdapter

from paramedic.catalog.model import Catalog, Strategy
from paramedic.errors import ProviderError
from paramedic.providers.base import ActionContext, BackupContext, default_repository
from paramedic.providers.local.redis import RedisProvider
from paramedic.providers.local.redis_rescue import receive_rdb
from paramedic.providers.local.redis_server import RedisFiles, files_from_config, log_tail
from paramedic.providers.local.supervise import proc_cmdline
from paramedic.providers.registry import build_provider
from tests.servers import (
    chown_tree,
    free_port,
    make_redis,
    need_binary,
    scratch_dir,
    unprivileged_user,
)

pytestmark = pytest.mark.integration

AGENT = """\
import asyncio, json, sys
from pathlib import Path
from paramedic.catalog.model import Catalog
from paramedic.providers.local.redis import RedisProvider

async def main() -> None:
    catalog = Catalog.model_validate(json.loads(sys.argv[1])).with_origin("p.yaml", Path(sys.argv[2]))
    provider = RedisProvider(catalog=catalog, name="cache")
    await provider.start()
    print(provider.pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


@dataclass
class Site:
    """A folder holding one redis component's data dir, repository, run and log dirs."""

    base: Path
    port: int
    user: str | None

    @property
    def data(self) -> Path:
        """The server's ``dir``."""
        return self.base / "data"

    @property
    def repository(self) -> Path:
        """Where snapshots go."""
        return self.base / "backups"

    def catalog_data(self, **spec: Any) -> dict[str, Any]:
        """A one-component catalog: ``cache`` served by the redis provider."""
        full = {"dir": str(self.data), "port": self.port, "user": self.user, **spec}
        return {
            "version": 1,
            "components": {
                "cache": {
                    "type": "cache",
                    "rto": "1m",
                    "rpo": "5m",
                    "provider": "redis",
                    "spec": full,
                    "health": {"check": "redis", "url": f"redis://127.0.0.1:{self.port}/0"},
                    "backup": {
                        "engine": "redis_rdb",
                        "schedule": "*/5 * * * *",
                        "repository": str(self.repository),
                    },
                }
            },
        }

    def catalog(self, **spec: Any) -> Catalog:
        """The catalog, as if loaded from ``base/paramedic.yaml``."""
        return Catalog.model_validate(self.catalog_data(**spec)).with_origin(
            "paramedic.yaml", self.base
        )

    def client(self) -> redis.asyncio.Redis:
        """A client of the component's server."""
        return redis.asyncio.Redis(port=self.port, decode_responses=True)


@pytest.fixture
def site() -> Iterator[Site]:
    """An empty site whose data dir belongs to the unprivileged user when we are root."""
    need_binary("redis-server", "redis-server")
    with scratch_dir("paramedic-redis-provider-") as base:
        user = unprivileged_user()
        (base / "data").mkdir()
        chown_tree(base / "data", user)
        yield Site(base, free_port(), user)


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A scratch folder an unprivileged scratch server can enter (pytest's tmp_path is 0700)."""
    with scratch_dir("paramedic-scratch-") as path:
        yield path


@pytest.fixture
async def provider(site: Site) -> AsyncIterator[RedisProvider]:
    """The provider of ``cache``, started (its server running); stopped afterwards."""
    async with running(RedisProvider(catalog=site.catalog(), name="cache")) as started:
        yield started


@contextlib.asynccontextmanager
async def running(provider: RedisProvider) -> AsyncIterator[RedisProvider]:
    """Start ``provider`` and wait for its server; kill whatever is left afterwards."""
    await provider.start()
    try:
        if provider.server.running is not None:
            await provider.server.wait_ready(provider.server.running)
        yield provider
    finally:
        proc = provider.server.running
        with contextlib.suppress(Exception):
            await asyncio.wait_for(provider.close(stop_owned=True), 10)
        if proc is not None and proc.alive:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            for _ in range(500):  # let the provider see the exit (and reap the child)
                if not proc.alive:
                    break
                await asyncio.sleep(0.01)


def step(**fields: Any) -> Strategy:
    """A strategy step as the catalog would hold it."""
    result: Strategy = TypeAdapter(Strategy).validate_python(fields)
    return result


def action(
    provider: RedisProvider, incident: str = "inc-1", index: int = 1, **extra: Any
) -> ActionContext:
    """The context the recovery workflow gives a step."""
    return ActionContext(
        incident_id=incident,
        step_index=index,
        component_name="cache",
        component=provider.catalog.components["cache"],
        catalog=provider.catalog,
        **extra,
    )


def backup_ctx(provider: RedisProvider, scratch: Path) -> BackupContext:
    """The context the backup service gives the provider."""
    return BackupContext(
        component_name="cache",
        component=provider.catalog.components["cache"],
        catalog=provider.catalog,
        repository=default_repository(provider.catalog, "cache"),
        scratch=scratch,
    )


async def fill(site: Site, count: int, prefix: str = "k") -> None:
    """Write ``count`` keys at once."""
    async with site.client() as client:
        await client.mset({f"{prefix}:{i}": str(i) for i in range(count)})


async def keys(site: Site) -> set[str]:
    """Every key the server holds."""
    async with site.client() as client:
        return {str(key) for key in await client.keys("*")}


class Writer:
    """Writes a key holding its own wall-clock time every 50 ms until stopped."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.written: dict[str, float] = {}
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
        async with self.site.client() as client:
            n = 0
            while True:
                moment = time.time()
                await client.set(f"t:{n}", f"{moment:.6f}")
                self.written[f"t:{n}"] = moment
                n += 1
                await asyncio.sleep(0.05)


def truncate(path: Path, size: int | None) -> int:
    """Cut ``path`` to ``size`` bytes (half when None); its size before."""
    before = path.stat().st_size
    with path.open("r+b") as file:
        file.truncate(before // 2 if size is None else size)
    return before


def start_and_kill_an_agent(site: Site) -> int:
    """An agent process starts the server, then dies by SIGKILL; the server's pid."""
    catalog = json.dumps(site.catalog_data())
    agent = subprocess.Popen(
        [sys.executable, "-c", AGENT, catalog, str(site.base)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert agent.stdout is not None
        return int(agent.stdout.readline())
    finally:
        agent.kill()  # no chance to stop or detach its server
        agent.communicate()


async def kill_9(provider: RedisProvider) -> None:
    """kill -9 the server (its whole group) and wait until the provider saw it exit."""
    proc = provider.server.running
    assert proc is not None
    os.killpg(proc.pid, signal.SIGKILL)
    for _ in range(200):
        if not proc.alive:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the server did not die")


# ---------------------------------------------------------------- restore


async def test_restore_brings_back_the_snapshot_and_moves_the_damaged_files_aside(
    site: Site, provider: RedisProvider, scratch: Path
) -> None:
    ctx = backup_ctx(provider, scratch)
    async with Writer(site) as writer:
        await asyncio.sleep(0.5)
        point = await provider.take_backup(ctx)
        await asyncio.sleep(0.5)
    async with site.client() as client:
        await client.flushall()  # the fault: the data is destroyed, and the dump rewritten empty
    await kill_9(provider)
    failed_at = datetime.now(UTC)

    result = await provider.carry_out(
        step(strategy="restore_from_backup"), action(provider, failed_at=failed_at)
    )

    assert result.recovery_point_at == point.taken_at
    taken = point.taken_at.timestamp()
    present = await keys(site)
    before = {k for k, at in writer.written.items() if at < taken - 0.02}
    after = {k for k, at in writer.written.items() if at > taken}
    assert len(before) >= 5 and len(after) >= 5
    assert before <= present
    assert not after & present
    aside = site.data / "dump.rdb.damaged-inc-1"
    assert aside.is_file()
    snapshot = Path(point.location).name
    assert result.output.startswith(
        "restore_from_backup of cache: was not running; moved aside (kept, not deleted): "
        f"{site.data}/dump.rdb → {aside}; snapshot {snapshot} (taken "
    )
    assert result.output.endswith(
        f"placed as {site.data}/dump.rdb; pid {provider.pid} answering on "
        f"127.0.0.1:{site.port} with {len(present)} keys"
    )


async def test_restore_repeated_for_the_same_step_is_not_done_twice(
    site: Site, provider: RedisProvider, scratch: Path
) -> None:
    await fill(site, 50)
    point = await provider.take_backup(backup_ctx(provider, scratch))
    restore = step(strategy="restore_from_backup")
    first = await provider.carry_out(restore, action(provider))
    pid = provider.pid

    again = await provider.carry_out(restore, action(provider))

    assert provider.pid == pid
    assert again.recovery_point_at == point.taken_at == first.recovery_point_at
    assert again.output == (
        f"{first.output} (already done for incident inc-1 step 1; pid {pid} still running, "
        "not started again)"
    )
    assert sorted(p.name for p in site.data.iterdir() if "damaged" in p.name) == [
        "dump.rdb.damaged-inc-1"
    ]


async def test_restore_interrupted_by_a_crash_is_finished_with_the_same_snapshot(
    site: Site, provider: RedisProvider, scratch: Path
) -> None:
    await fill(site, 20)
    point = await provider.take_backup(backup_ctx(provider, scratch))
    await fill(site, 20, "later")
    restore = step(strategy="restore_from_backup")
    await provider.carry_out(restore, action(provider))
    # The agent died just before recording the step done; a snapshot newer than its choice
    # appeared since: the repeat call must finish with the snapshot it chose.
    marker = site.base / "var" / "run" / "cache" / "steps" / "inc-1.1.json"
    recorded = json.loads(marker.read_text())
    marker.write_text(json.dumps(dict(recorded, phase="placed")))
    await fill(site, 5, "newest")
    await provider.take_backup(backup_ctx(provider, scratch))

    again = await provider.carry_out(restore, action(provider))

    assert again.recovery_point_at == point.taken_at
    assert await keys(site) == {f"k:{i}" for i in range(20)}
    damaged = sorted(p.name for p in site.data.iterdir() if "damaged" in p.name)
    assert damaged == ["dump.rdb.damaged-inc-1", "dump.rdb.damaged-inc-1.2"]  # none deleted


async def test_restore_before_failure_skips_newer_and_damaged_snapshots(
    site: Site, provider: RedisProvider, scratch: Path
) -> None:
    ctx = backup_ctx(provider, scratch)
    await fill(site, 10, "first")
    oldest = await provider.take_backup(ctx)
    await fill(site, 10, "second")
    middle = await provider.take_backup(ctx)
    failed_at = datetime.now(UTC)
    await fill(site, 10, "third")
    await provider.take_backup(ctx)
    truncate(Path(middle.location), 20)

    result = await provider.carry_out(
        step(strategy="restore_from_backup", target="before_failure"),
        action(provider, failed_at=failed_at),
    )

    assert result.recovery_point_at == oldest.taken_at
    assert await keys(site) == {f"first:{i}" for i in range(10)}
    assert f"skipped snapshot {Path(middle.location).name}: checksum mismatch" in result.output


async def test_restore_without_any_snapshot_says_how_to_take_one(provider: RedisProvider) -> None:
    with pytest.raises(ProviderError) as exc:
        await provider.carry_out(step(strategy="restore_from_backup"), action(provider))
    assert str(exc.value) == (
        "component 'cache': no recovery point in the repository; "
        "take one with `paramedic backup cache`"
    )


# ---------------------------------------------------------------- restart


async def test_restart_keeps_data_that_was_never_saved(site: Site, provider: RedisProvider) -> None:
    await fill(site, 100)
    old_pid = provider.pid

    result = await provider.carry_out(step(strategy="restart_service"), action(provider))

    assert provider.pid not in (None, old_pid)
    assert len(await keys(site)) == 100
    assert result.output == (
        "restart_service of cache: stopped with SHUTDOWN SAVE (its data saved first); "
        f"pid {provider.pid} answering on 127.0.0.1:{site.port} with 100 keys"
    )


async def test_restart_rescues_the_data_when_its_folder_was_deleted(
    site: Site, provider: RedisProvider
) -> None:
    await fill(site, 100)
    shutil.rmtree(site.data)  # SHUTDOWN SAVE cannot write anywhere now

    result = await provider.carry_out(step(strategy="restart_service"), action(provider))

    assert len(await keys(site)) == 100
    assert "dataset rescued from memory over a replication sync into" in result.output


async def test_restart_refuses_to_lose_data_it_can_neither_save_nor_rescue(site: Site) -> None:
    config = site.base / "redis.conf"
    config.write_text('rename-command SYNC ""\nrename-command PSYNC ""\n')
    provider = RedisProvider(catalog=site.catalog(config=str(config)), name="cache")
    async with running(provider):
        await fill(site, 10)
        pid = provider.pid
        shutil.rmtree(site.data)

        with pytest.raises(ProviderError) as exc:
            await provider.carry_out(step(strategy="restart_service"), action(provider))

        assert provider.pid == pid
        assert len(await keys(site)) == 10
        message = str(exc.value)
        assert message.startswith(
            "component 'cache': SHUTDOWN SAVE failed (Errors trying to SHUTDOWN. Check logs.) "
            "and the dataset could not be rescued from memory either ("
        )
        assert message.endswith(
            "); stopping the server would lose the data it holds, so it is left running: fix its "
            f"folder {site.data} (space, permissions) and retry, or stop it by hand"
        )


async def test_restart_of_a_hung_server(site: Site, provider: RedisProvider) -> None:
    await fill(site, 30)
    proc = provider.server.running
    assert proc is not None
    os.killpg(proc.pid, signal.SIGSTOP)

    result = await provider.carry_out(step(strategy="restart_service"), action(provider))

    assert provider.pid != proc.pid
    assert len(await keys(site)) == 30
    assert result.output.startswith(
        "restart_service of cache: was stopped (state T); sent SIGCONT before SHUTDOWN SAVE; "
        "stopped with SHUTDOWN SAVE (its data saved first)"
    )


async def test_restart_takes_over_a_server_paramedic_did_not_start(site: Site) -> None:
    foreign = make_redis(site.data)
    try:
        await fill(Site(site.base, foreign.port, None), 20)
        provider = RedisProvider(catalog=site.catalog(port=foreign.port), name="cache")
        async with running(provider):
            assert provider.pid is None  # left alone at start
            await provider.carry_out(step(strategy="restart_service"), action(provider))
            assert provider.pid is not None
            assert foreign.process.poll() is not None
            assert len(await keys(Site(site.base, foreign.port, None))) == 20
    finally:
        foreign.stop()


async def test_a_server_left_by_a_killed_agent_is_adopted(site: Site) -> None:
    pid = start_and_kill_an_agent(site)
    provider = RedisProvider(catalog=site.catalog(), name="cache")
    try:
        async with running(provider):
            assert provider.pid == pid
            await fill(site, 5)
            await provider.carry_out(step(strategy="restart_service"), action(provider))
            assert provider.pid != pid
            assert len(await keys(site)) == 5
    finally:
        if "redis-server" in " ".join(proc_cmdline(pid) or []):  # not adopted after all
            os.kill(pid, signal.SIGKILL)


async def test_a_server_that_cannot_start_is_reported_with_its_own_words(site: Site) -> None:
    config = site.base / "redis.conf"
    config.write_text("appendonly yes\nno-such-directive 1\n")
    provider = RedisProvider(catalog=site.catalog(config=str(config)), name="cache")
    await provider.start()  # starts it; it exits at once
    with pytest.raises(ProviderError) as exc:
        await provider.carry_out(step(strategy="restart_service"), action(provider))
    message = str(exc.value)
    assert message.startswith(
        f"component 'cache': redis-server exited with code 1 before answering on 127.0.0.1:{site.port}: "
    )
    assert "Bad directive or wrong number of arguments" in message


# ---------------------------------------------------------------- backups


async def test_verify_passes_then_fails_on_a_truncated_snapshot(
    site: Site, provider: RedisProvider, scratch: Path
) -> None:
    await fill(site, 200)
    ctx = backup_ctx(provider, scratch)
    point = await provider.take_backup(ctx)
    name = Path(point.location).name

    good = await provider.verify_backup(ctx, point)
    assert good.ok, good.detail
    assert good.detail == (
        f"snapshot {name}: checksum ok; loaded by a scratch redis-server: PING answered, "
        "DBSIZE 200, 200 keys in all databases"
    )

    size = truncate(Path(point.location), None)
    bad = await provider.verify_backup(ctx, point)
    assert not bad.ok
    assert bad.detail.startswith(f"snapshot {name}: checksum mismatch: recorded sha256:")
    assert bad.detail.endswith(
        f"({size // 2} of {size} bytes): it changed after the backup (truncated or corrupted)"
    )

    unchecked = await provider.verify_backup(ctx, replace(point, checksum=None))
    assert not unchecked.ok
    assert unchecked.detail.startswith(
        f"snapshot {name}: a scratch redis-server could not load it (exit code 1): "
    )
    assert "Short read or OOM loading DB" in unchecked.detail


async def test_points_window_and_prune_keep_the_newest(
    provider: RedisProvider, scratch: Path
) -> None:
    ctx = backup_ctx(provider, scratch)
    taken = [await provider.take_backup(ctx) for _ in range(3)]

    points = await provider.recovery_points(ctx)
    assert [p.location for p in points] == [p.location for p in taken]
    assert all(p.checksum and p.checksum.startswith("sha256:") for p in points)
    window = await provider.restorable_window(ctx)
    assert (window.oldest, window.newest) == (taken[0].taken_at, taken[-1].taken_at)

    assert await provider.prune(ctx, timedelta(hours=1)) == []
    removed = await provider.prune(ctx, timedelta(0))
    assert removed == [Path(p.location).stem for p in taken[:2]]
    assert [p.location for p in await provider.recovery_points(ctx)] == [taken[-1].location]
    newest = Path(taken[-1].location)
    assert sorted(p.name for p in ctx.repository.iterdir()) == [
        newest.with_suffix(".json").name,
        newest.name,
    ]


async def test_backup_of_a_stopped_server_says_what_to_do(
    provider: RedisProvider, scratch: Path
) -> None:
    await kill_9(provider)
    with pytest.raises(ProviderError) as exc:
        await provider.take_backup(backup_ctx(provider, scratch))
    assert str(exc.value).startswith(
        f"component 'cache': cannot take a snapshot: redis-server on 127.0.0.1:{provider.spec.port}: "
    )
    assert str(exc.value).endswith("a backup needs the server running (recover it first)")


# ---------------------------------------------------------------- AOF


async def test_restore_with_aof_on_rebuilds_the_aof_from_the_snapshot(
    site: Site, scratch: Path
) -> None:
    config = site.base / "redis.conf"
    config.write_text('appendonly yes\nappendfsync always\nsave ""\n')
    provider = RedisProvider(catalog=site.catalog(config=str(config)), name="cache")
    async with running(provider):
        ctx = backup_ctx(provider, scratch)
        await fill(site, 40, "kept")
        point = await provider.take_backup(ctx)
        aof_copy = Path(point.detail["aof"])
        assert (aof_copy / "appendonly.aof.manifest").is_file()
        await fill(site, 40, "lost")
        async with site.client() as client:
            await client.flushall()
        await kill_9(provider)

        result = await provider.carry_out(step(strategy="restore_from_backup"), action(provider))

        assert await keys(site) == {f"kept:{i}" for i in range(40)}
        assert "AOF rebuilt from the snapshot (40 keys)" in result.output
        assert (site.data / "appendonlydir.damaged-inc-1" / "appendonly.aof.manifest").is_file()
        async with site.client() as client:
            assert (await client.info("persistence"))["aof_enabled"] == 1
        # With AOF on the server loads the AOF, not the RDB: the data must be in the new AOF.
        await kill_9(provider)
        (site.data / "dump.rdb").unlink()
        await provider.carry_out(step(strategy="restart_service"), action(provider, "inc-2"))
        assert await keys(site) == {f"kept:{i}" for i in range(40)}


async def test_the_registry_builds_it(site: Site) -> None:
    assert isinstance(build_provider(site.catalog(), "cache"), RedisProvider)


# ---------------------------------------------------------------- pieces


@pytest.mark.parametrize("cut", [1, 39, 40, 41, 4096])
async def test_a_rescued_transfer_cut_anywhere_is_written_whole(tmp_path: Path, cut: int) -> None:
    payload = os.urandom(3000)
    mark = os.urandom(20).hex().encode()
    for header, stream in ((b"EOF:" + mark, payload + mark), (b"3000", payload)):
        reader = asyncio.StreamReader()

        async def feed(data: bytes = stream, into: asyncio.StreamReader = reader) -> None:
            for start in range(0, len(data), cut):
                into.feed_data(data[start : start + cut])
                await asyncio.sleep(0)

        feeding = asyncio.create_task(feed())
        target = tmp_path / "rescued.rdb"
        written = await receive_rdb(reader, header, target)
        await feeding
        assert (written, target.read_bytes()) == (len(payload), payload)


def test_files_are_read_from_the_config_and_its_includes(tmp_path: Path) -> None:
    (tmp_path / "more.conf").write_text('dbfilename "cache.rdb"\nappenddirname aof\n')
    config = tmp_path / "redis.conf"
    config.write_text("# comment\ninclude more.conf\nappendonly no\nAPPENDONLY yes\n")
    assert files_from_config(config, tmp_path / "data") == RedisFiles(
        dir=tmp_path / "data",
        dbfilename="cache.rdb",
        appendonly=True,
        appenddirname="aof",
        appendfilename="appendonly.aof",
    )
    assert files_from_config(None, tmp_path).rdb == tmp_path / "dump.rdb"


def test_the_log_tail_quotes_the_last_start_only(tmp_path: Path) -> None:
    log = tmp_path / "cache.log"
    log.write_text(
        "--- paramedic 2026-11-25T14:00:00.000+00:00 cache: started pid 10 (agent start): x\n"
        "10:M 25 Nov 2026 14:00:00.100 # Old trouble.\n"
        "--- paramedic 2026-11-25T14:01:00.000+00:00 cache: started pid 11 (restart): x\n"
        "11:M 25 Nov 2026 14:01:00.100 # WARNING Memory overcommit must be enabled!\n"
        "11:M 25 Nov 2026 14:01:00.200 * Loading RDB produced by version 7.0.15\n"
        "11:M 25 Nov 2026 14:01:00.300 # Short read or OOM loading DB.\n"
        "--- paramedic 2026-11-25T14:01:01.000+00:00 cache: pid 11 exited with code 1\n"
    )
    assert log_tail(log) == "Short read or OOM loading DB."


def test_the_log_tail_keeps_output_printed_before_the_started_note(tmp_path: Path) -> None:
    log = tmp_path / "cache.log"
    log.write_text(
        "--- paramedic 2026-11-25T14:00:00.000+00:00 cache: started pid 10 (agent start): x\n"
        "10:M 25 Nov 2026 14:00:00.100 # Old trouble.\n"
        "--- paramedic 2026-11-25T14:01:00.000+00:00 cache: starting (restart)\n"
        "11:M 25 Nov 2026 14:01:00.001 # Bad directive or wrong number of arguments\n"
        "--- paramedic 2026-11-25T14:01:00.002+00:00 cache: started pid 11 (restart): x\n"
    )
    assert log_tail(log) == "Bad directive or wrong number of arguments"


async def test_taken_over_start_adopts_a_running_server_and_never_starts_a_stopped_one(
    site: Site,
) -> None:
    """start_if_down False (taken over from another agent): adopt only."""
    pid = start_and_kill_an_agent(site)
    taker = RedisProvider(catalog=site.catalog(), name="cache")
    taker.start_if_down = False
    try:
        async with running(taker):
            assert taker.pid == pid
        down = RedisProvider(catalog=site.catalog(), name="cache")
        down.start_if_down = False
        await down.start()
        assert down.pid is None
        with pytest.raises(redis.exceptions.ConnectionError):
            await site.client().ping()
    finally:
        if "redis-server" in " ".join(proc_cmdline(pid) or []):
            os.kill(pid, signal.SIGKILL)
