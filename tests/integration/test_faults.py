"""Drill faults against REAL processes and servers: each fault takes effect at the moment
``injected_at`` says, ``undo_fault`` takes back what can be, twice is fine, data is never deleted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis.asyncio

from paramedic.catalog.model import Catalog
from paramedic.errors import ProviderError
from paramedic.providers.base import FaultCapable, FaultContext, InjectedFault
from paramedic.providers.local.faults import process_state
from paramedic.providers.local.files import FilesProvider
from paramedic.providers.local.haproxy import HaproxyProvider
from paramedic.providers.local.postgres import PostgresProvider
from paramedic.providers.local.process import ProcessProvider
from paramedic.providers.local.redis import RedisProvider
from tests.servers import (
    PostgresServer,
    chown_tree,
    free_port,
    make_postgres,
    need_binary,
    scratch_dir,
    unprivileged_user,
    wait_port,
)

pytestmark = pytest.mark.integration

PY = sys.executable
SLEEPER = [PY, "-c", "import time; print('up', flush=True); time.sleep(60)"]
CLEAN_EXIT = [
    PY,
    "-c",
    "import signal, sys, time; signal.signal(signal.SIGUSR1, lambda *_: sys.exit(0)); "
    "print('ready', flush=True); time.sleep(60)",
]
SERVER = """\
import http.server, os
port = int(os.environ["PORT"])
handler = http.server.SimpleHTTPRequestHandler
http.server.ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
"""


# ---------------------------------------------------------------- helpers


async def wait_until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Wait for something another process does."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {within}s")
        await asyncio.sleep(0.01)


def gone(pid: int) -> bool:
    """True when ``pid`` has exited (a zombie counts as gone)."""
    return process_state(pid) in (None, "Z", "X")


def reap(pid: int) -> None:
    """Collect the exit status of ``pid`` if it is a child of this test process."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def read(path: str) -> bytes:
    """The bytes of the file at ``path``."""
    return Path(path).read_bytes()


def port_free(port: int) -> bool:
    """True when 127.0.0.1:``port`` can be bound."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def first_line(port: int) -> bytes:
    """What 127.0.0.1:``port`` answers to an HTTP request, its first line."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\n\r\n")
        return conn.makefile("rb").readline()


def fault_ctx(catalog: Catalog, name: str, drill: str = "d-1") -> FaultContext:
    """The context a drill gives the provider."""
    return FaultContext(
        drill_id=drill, component_name=name, component=catalog.components[name], catalog=catalog
    )


def between(before: datetime, injected: InjectedFault) -> None:
    """``injected_at`` is aware UTC and lies between ``before`` and now."""
    after = datetime.now(UTC)
    assert injected.injected_at.tzinfo is not None
    assert injected.injected_at.utcoffset() is not None
    assert before <= injected.injected_at <= after


# ---------------------------------------------------------------- process


def process_catalog(base: Path, spec: dict[str, Any]) -> Catalog:
    """A one-component catalog whose ``web`` is run by the process provider."""
    data = {
        "version": 1,
        "components": {
            "web": {
                "type": "application_server",
                "rto": "30s",
                "rpo": "0s",
                "provider": "process",
                "spec": spec,
                "health": {"check": "process"},
            }
        },
    }
    return Catalog.model_validate(data).with_origin("paramedic.yaml", base)


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Starts ``web`` (the agent's provider) and gives a second provider, as the drill builds it."""
    agents: list[ProcessProvider] = []
    pids: list[int] = []

    async def make(spec: dict[str, Any]) -> tuple[ProcessProvider, ProcessProvider, int]:
        catalog = process_catalog(tmp_path, spec)
        agent = ProcessProvider(catalog=catalog, name="web")
        agents.append(agent)
        await agent.start()
        assert agent.pid is not None
        pids.append(agent.pid)
        return agent, ProcessProvider(catalog=catalog, name="web"), agent.pid

    try:
        yield make
    finally:
        for pid in pids:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGCONT)
        for agent in agents:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(agent.close(stop_owned=True), 10)


async def test_process_kill_sigkills_the_primary(web: Callable[..., Any], tmp_path: Path) -> None:
    agent, drill, pid = await web({"command": SLEEPER})
    exits: list[tuple[str, int | None]] = []
    agent.on_exit = lambda name, code: exits.append((name, code))
    ctx = fault_ctx(drill.catalog, "web")
    assert isinstance(drill, FaultCapable)

    before = datetime.now(UTC)
    injected = await drill.inject_fault("kill", ctx)
    between(before, injected)

    await wait_until(lambda: exits != [])
    assert exits == [("web", -9)]
    assert injected.description == f"pid {pid} killed with SIGKILL"
    assert agent.process_state()[0] is False
    message = "nothing to undo for 'kill': the recovery starts the process again"
    assert await drill.undo_fault(injected, ctx) == message
    assert await drill.undo_fault(injected, ctx) == message


async def test_process_hang_stops_it_and_undo_resumes_it(web: Callable[..., Any]) -> None:
    _agent, drill, pid = await web({"command": SLEEPER})
    ctx = fault_ctx(drill.catalog, "web")

    before = datetime.now(UTC)
    injected = await drill.inject_fault("hang", ctx)
    between(before, injected)

    await wait_until(lambda: process_state(pid) == "T")
    assert injected.undo["pid"] == pid
    assert await drill.undo_fault(injected, ctx) == f"pid {pid} resumed with SIGCONT"
    await wait_until(lambda: process_state(pid) in ("S", "R"))
    assert await drill.undo_fault(injected, ctx) == f"pid {pid} resumed with SIGCONT"
    assert process_state(pid) in ("S", "R")


async def test_process_hang_undo_leaves_a_replaced_process_alone(web: Callable[..., Any]) -> None:
    agent, drill, pid = await web({"command": SLEEPER})
    ctx = fault_ctx(drill.catalog, "web")
    injected = await drill.inject_fault("hang", ctx)
    # The recovery kills the hung process; a pid reused by a stranger has another start time.
    os.killpg(pid, signal.SIGKILL)
    await wait_until(lambda: not agent.process_state()[0])

    message = f"nothing to resume: pid {pid} is gone (the recovery replaced it)"
    assert await drill.undo_fault(injected, ctx) == message
    stranger = InjectedFault(
        "hang", injected.injected_at, "", {"pid": os.getpid(), "start_time": 1}
    )
    assert await drill.undo_fault(stranger, ctx) == (
        f"nothing to resume: pid {os.getpid()} is gone (the recovery replaced it)"
    )


async def test_process_exit_is_a_failure_not_a_paramedic_stop(web: Callable[..., Any]) -> None:
    agent, drill, pid = await web({"command": CLEAN_EXIT, "stop_signal": "SIGUSR1"})
    await wait_until(lambda: "ready" in agent._log_path.read_text().splitlines())
    exits: list[tuple[str, int | None]] = []
    agent.on_exit = lambda name, code: exits.append((name, code))
    ctx = fault_ctx(drill.catalog, "web")

    before = datetime.now(UTC)
    injected = await drill.inject_fault("exit", ctx)
    between(before, injected)

    await wait_until(lambda: exits != [])
    assert exits == [("web", 0)]
    alive, detail = agent.process_state()
    assert not alive and detail.startswith(f"pid {pid} exited with code 0 ")
    assert "stopped by paramedic" not in detail
    assert injected.description == f"pid {pid} asked to exit with SIGUSR1 (not a paramedic stop)"
    await drill.undo_fault(injected, ctx)


async def test_process_port_squat_holds_the_port_until_undone(web: Callable[..., Any]) -> None:
    port = free_port()
    _agent, drill, pid = await web({"command": [PY, "-c", SERVER], "port": port})
    await asyncio.to_thread(wait_port, port)
    assert (await asyncio.to_thread(first_line, port)).startswith(b"HTTP/1.0 200")
    ctx = fault_ctx(drill.catalog, "web")

    before = datetime.now(UTC)
    injected = await drill.inject_fault("port-squat", ctx)
    between(before, injected)

    squatter = injected.undo["squatter_pid"]
    assert gone(pid) and not gone(squatter) and squatter != pid
    assert injected.undo["port"] == port
    assert await asyncio.to_thread(first_line, port) == (
        b"paramedic drill: this port is squatted, not the service\r\n"
    )
    assert not port_free(port)

    assert await drill.undo_fault(injected, ctx) == (
        f"port squatter pid {squatter} killed; port {port} freed"
    )
    assert gone(squatter)
    await wait_until(lambda: port_free(port))
    assert await drill.undo_fault(injected, ctx) == (
        f"port squatter pid {squatter} already gone; port {port} not held by it"
    )


async def test_process_port_squat_wins_against_an_immediate_restart(
    web: Callable[..., Any],
) -> None:
    port = free_port()
    agent, drill, _pid = await web({"command": [PY, "-c", SERVER], "port": port})
    await asyncio.to_thread(wait_port, port)
    restarted: list[Any] = []

    def restart_at_once(_name: str, _code: int | None) -> None:
        if not restarted:  # the restarted one exits too: restart once only
            restarted.append(agent._spawn_primary("test restart"))

    agent.on_exit = restart_at_once
    ctx = fault_ctx(drill.catalog, "web")
    injected = await drill.inject_fault("port-squat", ctx)
    try:
        await wait_until(lambda: restarted != [] and not restarted[0].alive)
        assert restarted[0].returncode == 1
        assert "Address already in use" in agent._log_path.read_text()
        assert await asyncio.to_thread(first_line, port) == (
            b"paramedic drill: this port is squatted, not the service\r\n"
        )
    finally:
        agent.on_exit = None
        await drill.undo_fault(injected, ctx)


async def test_process_unknown_fault_names_the_offered_ones(web: Callable[..., Any]) -> None:
    _agent, drill, pid = await web({"command": SLEEPER})
    with pytest.raises(ProviderError) as caught:
        await drill.inject_fault("boom", fault_ctx(drill.catalog, "web"))
    assert str(caught.value) == (
        "provider 'process' offers the faults kill, hang, exit, port-squat; "
        "'boom' is not one of them"
    )
    assert process_state(pid) in ("S", "R")


async def test_process_fault_without_a_running_process(tmp_path: Path) -> None:
    catalog = process_catalog(tmp_path, {"command": SLEEPER})
    drill = ProcessProvider(catalog=catalog, name="web")
    with pytest.raises(ProviderError) as caught:
        await drill.inject_fault("kill", fault_ctx(catalog, "web"))
    assert str(caught.value) == (
        "component 'web': no running process to inject 'kill' into; "
        "start the agent (paramedic run) first"
    )


# ---------------------------------------------------------------- postgres


@dataclass
class PgSite:
    """One real cluster for the module, with a catalog (``db``) describing it."""

    base: Path
    server: PostgresServer

    @property
    def catalog(self) -> Catalog:
        """A one-component catalog: ``db`` served by the postgres provider."""
        server = self.server
        spec = {
            "data_dir": str(server.data_dir),
            "port": server.port,
            "bin_dir": str(server.bin_dir),
            "user": server.user,
        }
        component = {
            "type": "database",
            "rto": "5m",
            "rpo": "1m",
            "provider": "postgres",
            "spec": spec,
            "health": {"check": "postgres", "dsn": server.dsn},
        }
        data = {"version": 1, "agent": {"run_dir": "run", "log_dir": "log"}}
        data["components"] = {"db": component}
        return Catalog.model_validate(data).with_origin("paramedic.yaml", self.base)

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        """Rows of ``query`` on the ``postgres`` database."""
        with psycopg.connect(self.server.dsn, autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(query.encode())
            return cursor.fetchall() if cursor.description else []

    def running(self) -> None:
        """Start the cluster again after a drill (its data directory moved back, if moved)."""
        data_dir = self.server.data_dir
        moved = sorted(data_dir.parent.glob(f"{data_dir.name}.drill-*"))
        if not data_dir.exists() and moved:
            moved[-1].rename(data_dir)
        with contextlib.suppress(OSError, ValueError):
            if not gone(int((data_dir / "postmaster.pid").read_text().split()[0])):
                return  # running (a killed postmaster stays a zombie a moment: not running)
        deadline = time.monotonic() + 20
        while True:  # the killed postmaster's children may hold its shared memory a moment
            try:
                self.server.start()
                return
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


@pytest.fixture(scope="module")
def pg_module() -> Iterator[PgSite]:
    """A real cluster shared by the postgres fault tests; stopped at the end."""
    with scratch_dir("paramedic-pgfault-") as base:
        server = make_postgres(base / "pg")
        try:
            site = PgSite(base, server)
            site.sql("ALTER SYSTEM SET fsync = off")
            site.sql("SELECT pg_reload_conf()")
            yield site
        finally:
            server.stop("immediate")


@pytest.fixture
def pg(pg_module: PgSite) -> Iterator[PgSite]:
    """The shared cluster, running; started again (data moved back) after each test."""
    pg_module.running()
    yield pg_module
    pg_module.running()


def pg_provider(site: PgSite) -> tuple[PostgresProvider, FaultContext]:
    """A postgres provider as a drill builds it, and the drill's context."""
    catalog = site.catalog
    return PostgresProvider(catalog=catalog, name="db"), fault_ctx(catalog, "db")


async def test_postgres_kill_postmaster(pg: PgSite) -> None:
    provider, ctx = pg_provider(pg)
    pid = provider.postmaster_pid()
    assert pid is not None and not gone(pid)

    before = datetime.now(UTC)
    injected = await provider.inject_fault("kill-postmaster", ctx)
    between(before, injected)

    await wait_until(lambda: gone(pid))
    assert injected.description == f"postmaster pid {pid} killed with SIGKILL"
    message = "nothing to undo for 'kill-postmaster': the recovery starts PostgreSQL again"
    assert await provider.undo_fault(injected, ctx) == message
    assert await provider.undo_fault(injected, ctx) == message


async def test_postgres_delete_data_moves_the_directory_away(pg: PgSite) -> None:
    provider, ctx = pg_provider(pg)
    pid = provider.postmaster_pid()
    assert pid is not None
    data_dir = pg.server.data_dir

    before = datetime.now(UTC)
    injected = await provider.inject_fault("delete-data", ctx)
    between(before, injected)

    aside = data_dir.with_name(f"{data_dir.name}.drill-d-1")
    assert gone(pid)
    assert not data_dir.exists()
    assert (aside / "PG_VERSION").is_file()
    assert injected.undo["moved_to"] == str(aside)
    message = (
        f"nothing to undo: the data directory stays at {aside} "
        "(not moved back; the recovery restored a new one)"
    )
    assert await provider.undo_fault(injected, ctx) == message
    assert await provider.undo_fault(injected, ctx) == message
    assert (aside / "PG_VERSION").is_file()


async def test_postgres_corrupt_relation_damages_the_canary_on_disk(pg: PgSite) -> None:
    pg.sql(
        "CREATE TABLE big AS SELECT g AS id, repeat('x', 200) AS pad FROM generate_series(1, 5000) g"
    )
    pg.sql("CREATE TABLE paramedic_canary AS SELECT g AS id FROM generate_series(1, 10) g")
    try:
        [(relative,)] = pg.sql("SELECT pg_relation_filepath('paramedic_canary')")
        pg.sql("CHECKPOINT")
        target = pg.server.data_dir / relative
        original = target.read_bytes()
        provider, ctx = pg_provider(pg)

        before = datetime.now(UTC)
        injected = await provider.inject_fault("corrupt-relation", ctx)
        between(before, injected)

        kept = pg.base / "run" / "db" / "drills" / "d-1" / f"postgres.{target.name}.original"
        assert injected.undo == {
            "database": "postgres",
            "table": "paramedic_canary",
            "file": str(target),
            "original": str(kept),
        }
        assert kept.read_bytes() == original
        damaged = target.read_bytes()
        assert len(damaged) == len(original) and damaged != original
        # Once the page is read from disk again, PostgreSQL refuses it.
        pg.server.stop("fast")
        pg.running()
        with pytest.raises(psycopg.errors.DataCorrupted) as caught:
            pg.sql("SELECT count(*) FROM paramedic_canary")
        assert "invalid page in block 0 of relation" in str(caught.value)
        message = (
            f"nothing to undo: the original file of paramedic_canary stays at {kept} "
            "(not copied back)"
        )
        assert await provider.undo_fault(injected, ctx) == message
        assert await provider.undo_fault(injected, ctx) == message
        assert kept.read_bytes() == original
    finally:
        pg.sql("DROP TABLE IF EXISTS paramedic_canary, big")


async def test_postgres_corrupt_relation_picks_the_largest_table_without_a_canary(
    pg: PgSite,
) -> None:
    pg.sql("CREATE TABLE small AS SELECT g AS id FROM generate_series(1, 10) g")
    pg.sql("CREATE TABLE large AS SELECT g AS id FROM generate_series(1, 20000) g")
    try:
        [(relative,)] = pg.sql("SELECT pg_relation_filepath('large')")
        provider, ctx = pg_provider(pg)
        injected = await provider.inject_fault("corrupt-relation", ctx)
        assert injected.undo["table"] == "large"
        assert injected.undo["file"] == str(pg.server.data_dir / relative)
        assert read(injected.undo["original"]) != read(injected.undo["file"])
    finally:
        pg.sql("DROP TABLE IF EXISTS small, large")


async def test_postgres_stop(pg: PgSite) -> None:
    provider, ctx = pg_provider(pg)
    assert provider.is_running()

    before = datetime.now(UTC)
    injected = await provider.inject_fault("stop", ctx)
    between(before, injected)

    assert not provider.is_running()
    assert injected.description == f"PostgreSQL {pg.server.data_dir} stopped (pg_ctl stop -m fast)"
    message = "nothing to undo for 'stop': the recovery starts PostgreSQL again"
    assert await provider.undo_fault(injected, ctx) == message
    assert await provider.undo_fault(injected, ctx) == message


async def test_postgres_unknown_fault(pg: PgSite) -> None:
    provider, ctx = pg_provider(pg)
    with pytest.raises(ProviderError) as caught:
        await provider.inject_fault("kill", ctx)
    assert str(caught.value) == (
        "provider 'postgres' offers the faults kill-postmaster, delete-data, corrupt-relation, "
        "stop; 'kill' is not one of them"
    )
    assert provider.is_running()


# ---------------------------------------------------------------- redis


@pytest.fixture
async def cache() -> AsyncIterator[tuple[RedisProvider, FaultContext, Path]]:
    """A redis provider running its own server; the drill's context; the server's folder."""
    need_binary("redis-server", "redis-server")
    with scratch_dir("paramedic-redis-fault-") as base:
        user = unprivileged_user()
        (base / "data").mkdir()
        chown_tree(base / "data", user)
        port = free_port()
        spec = {"dir": str(base / "data"), "port": port, "user": user}
        component = {
            "type": "cache",
            "rto": "1m",
            "rpo": "5m",
            "provider": "redis",
            "spec": spec,
            "health": {"check": "redis", "url": f"redis://127.0.0.1:{port}/0"},
        }
        data = {"version": 1, "components": {"cache": component}}
        catalog = Catalog.model_validate(data).with_origin("paramedic.yaml", base)
        provider = RedisProvider(catalog=catalog, name="cache")
        await provider.start()
        try:
            assert provider.server.running is not None
            await provider.server.wait_ready(provider.server.running)
            yield provider, fault_ctx(catalog, "cache"), base / "data"
        finally:
            proc = provider.server.running
            if proc is not None:
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGCONT)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(provider.close(stop_owned=True), 10)
            if proc is not None and proc.alive:
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await wait_until(lambda: not proc.alive)


async def redis_pid(provider: RedisProvider) -> int:
    """The pid the server reports of itself."""
    async with redis.asyncio.Redis(port=provider.spec.port) as client:
        info = await client.info("server")
    return int(info["process_id"])


async def test_redis_kill(cache: tuple[RedisProvider, FaultContext, Path]) -> None:
    provider, ctx, _data = cache
    pid = await redis_pid(provider)

    before = datetime.now(UTC)
    injected = await provider.inject_fault("kill", ctx)
    between(before, injected)

    await wait_until(lambda: gone(pid))
    assert injected.description == f"redis-server pid {pid} killed with SIGKILL"
    message = "nothing to undo for 'kill': the recovery starts redis-server again"
    assert await provider.undo_fault(injected, ctx) == message
    assert await provider.undo_fault(injected, ctx) == message


async def test_redis_hang_and_undo(cache: tuple[RedisProvider, FaultContext, Path]) -> None:
    provider, ctx, _data = cache
    pid = await redis_pid(provider)

    before = datetime.now(UTC)
    injected = await provider.inject_fault("hang", ctx)
    between(before, injected)

    await wait_until(lambda: process_state(pid) == "T")
    assert (
        await provider.undo_fault(injected, ctx) == f"redis-server pid {pid} resumed with SIGCONT"
    )
    await wait_until(lambda: process_state(pid) in ("S", "R"))
    assert await redis_pid(provider) == pid  # it answers again
    assert (
        await provider.undo_fault(injected, ctx) == f"redis-server pid {pid} resumed with SIGCONT"
    )


async def test_redis_delete_data_moves_the_files_intact(
    cache: tuple[RedisProvider, FaultContext, Path],
) -> None:
    provider, ctx, data = cache
    pid = await redis_pid(provider)
    async with redis.asyncio.Redis(port=provider.spec.port) as client:
        await client.mset({f"k:{i}": str(i) for i in range(100)})
        await client.save()
        await client.config_set("appendonly", "yes")
        await wait_until(lambda: (data / "appendonlydir").is_dir(), 10)
        await client.set("after-rdb", "1")
        for _ in range(500):  # the AOF rewrite that turning it on starts
            if (await client.info("persistence"))["aof_rewrite_in_progress"] == 0:
                break
            await asyncio.sleep(0.01)
    rdb = (data / "dump.rdb").read_bytes()
    aof = {p.name: p.read_bytes() for p in (data / "appendonlydir").iterdir()}

    before = datetime.now(UTC)
    injected = await provider.inject_fault("delete-data", ctx)
    between(before, injected)

    aside = data / "drill-d-1"
    assert gone(pid)
    assert (aside / "dump.rdb").read_bytes() == rdb
    assert {p.name: p.read_bytes() for p in (aside / "appendonlydir").iterdir()} == aof
    assert not (data / "appendonlydir").exists()
    assert injected.undo["moved"] == [
        f"{data / 'dump.rdb'} -> {aside / 'dump.rdb'}",
        f"{data / 'appendonlydir'} -> {aside / 'appendonlydir'}",
    ]
    # Started again, the server has nothing.
    await wait_until(lambda: provider.server.running is None)
    await provider.start()
    assert provider.server.running is not None
    await provider.server.wait_ready(provider.server.running)
    async with redis.asyncio.Redis(port=provider.spec.port) as client:
        assert await client.dbsize() == 0
    message = (
        "nothing to undo: the moved data files stay where they are ("
        + "; ".join(injected.undo["moved"])
        + ")"
    )
    assert await provider.undo_fault(injected, ctx) == message
    assert await provider.undo_fault(injected, ctx) == message
    assert (aside / "dump.rdb").read_bytes() == rdb


async def test_redis_unknown_fault(cache: tuple[RedisProvider, FaultContext, Path]) -> None:
    provider, ctx, _data = cache
    with pytest.raises(ProviderError) as caught:
        await provider.inject_fault("exit", ctx)
    assert str(caught.value) == (
        "provider 'redis' offers the faults kill, delete-data, hang; 'exit' is not one of them"
    )


# ---------------------------------------------------------------- files


def files_provider(base: Path) -> tuple[FilesProvider, FaultContext]:
    """A files provider for ``base/tree`` as a drill builds it, and the drill's context."""
    component = {
        "type": "file_system",
        "rto": "5m",
        "rpo": "1h",
        "provider": "files",
        "spec": {"path": "tree"},
        "health": {"check": "command", "command": ["test", "-d", str(base / "tree")]},
    }
    data = {"version": 1, "components": {"docs": component}}
    catalog = Catalog.model_validate(data).with_origin("paramedic.yaml", base)
    return FilesProvider(catalog=catalog, name="docs"), fault_ctx(catalog, "docs")


def make_tree(base: Path) -> dict[str, bytes]:
    """``base/tree`` with five files (one empty, one behind a symlink); their contents."""
    tree = base / "tree"
    (tree / "sub").mkdir(parents=True)
    contents = {
        "a.txt": b"alpha " * 30,
        "b.bin": bytes(range(20)),
        "empty": b"",
        "sub/c.txt": b"gamma",
        "sub/d.txt": b"delta",
    }
    for name, content in contents.items():
        (tree / name).write_bytes(content)
    (tree / "link").symlink_to(tree / "a.txt")
    return contents


def tree_bytes(tree: Path) -> dict[str, bytes]:
    """Every regular file of ``tree`` by relative path."""
    return {
        str(p.relative_to(tree)): p.read_bytes()
        for p in sorted(tree.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


async def test_files_delete_tree_moves_it_aside(tmp_path: Path) -> None:
    contents = make_tree(tmp_path)
    provider, ctx = files_provider(tmp_path)

    before = datetime.now(UTC)
    injected = await provider.inject_fault("delete-tree", ctx)
    between(before, injected)

    aside = tmp_path / "tree.drill-d-1"
    assert not (tmp_path / "tree").exists()
    assert tree_bytes(aside) == contents
    assert injected.description == f"{tmp_path / 'tree'} moved to {aside}"
    message = f"nothing to undo: the tree stays at {aside} (not moved back)"
    assert await provider.undo_fault(injected, ctx) == message
    assert await provider.undo_fault(injected, ctx) == message
    assert tree_bytes(aside) == contents


async def test_files_corrupt_files_keeps_the_originals(tmp_path: Path) -> None:
    contents = make_tree(tmp_path)
    provider, ctx = files_provider(tmp_path)
    tree = tmp_path / "tree"

    before = datetime.now(UTC)
    injected = await provider.inject_fault("corrupt-files", ctx)
    between(before, injected)

    now = tree_bytes(tree)
    damaged = ["a.txt", "b.bin", "sub/c.txt"]  # three non-empty files, in name order
    assert [name for name in contents if now[name] != contents[name]] == damaged
    assert all(len(now[name]) == len(contents[name]) for name in contents)
    originals = tmp_path / "tree.drill-d-1.originals"
    assert tree_bytes(originals) == {name: contents[name] for name in damaged}
    assert injected.undo == {
        "files": [str(tree / name) for name in damaged],
        "originals": str(originals),
    }
    message = f"nothing to undo: the original files stay in {originals} (not copied back)"
    assert await provider.undo_fault(injected, ctx) == message
    assert await provider.undo_fault(injected, ctx) == message

    again = await provider.inject_fault("corrupt-files", fault_ctx(provider.catalog, "docs"))
    assert again.undo["originals"] == str(tmp_path / "tree.drill-d-1.originals.2")
    assert tree_bytes(tree)["a.txt"] == contents["a.txt"]  # flipped twice: as it was


async def test_files_unknown_fault(tmp_path: Path) -> None:
    make_tree(tmp_path)
    provider, ctx = files_provider(tmp_path)
    with pytest.raises(ProviderError) as caught:
        await provider.inject_fault("kill", ctx)
    assert str(caught.value) == (
        "provider 'files' offers the faults delete-tree, corrupt-files; 'kill' is not one of them"
    )


# ---------------------------------------------------------------- haproxy

HAPROXY_CONFIG = """\
global
    stats socket {sock} mode 600 level admin expose-fd listeners

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend fe
    bind 127.0.0.1:{front}
"""


async def test_haproxy_kill_sigkills_the_master(tmp_path: Path) -> None:
    need_binary("haproxy", "haproxy", ("/usr/sbin/haproxy",))
    front = free_port()
    (tmp_path / "haproxy.cfg").write_text(
        HAPROXY_CONFIG.format(sock=tmp_path / "s.sock", front=front)
    )
    component = {
        "type": "load_balancer",
        "rto": "30s",
        "rpo": "0s",
        "provider": "haproxy",
        "spec": {"config": "haproxy.cfg", "stats_socket": "s.sock"},
        "health": {"check": "haproxy", "stats_socket": str(tmp_path / "s.sock")},
    }
    data = {"version": 1, "components": {"lb": component}}
    catalog = Catalog.model_validate(data).with_origin("paramedic.yaml", tmp_path)
    agent = HaproxyProvider(catalog=catalog, name="lb")
    exits: list[tuple[str, int | None]] = []
    agent.on_exit = lambda name, code: exits.append((name, code))
    await agent.start()
    try:
        pid = agent.pid
        assert pid is not None
        await asyncio.to_thread(wait_port, front)
        drill, ctx = HaproxyProvider(catalog=catalog, name="lb"), fault_ctx(catalog, "lb")

        before = datetime.now(UTC)
        injected = await drill.inject_fault("kill", ctx)
        between(before, injected)

        await wait_until(lambda: exits != [])
        assert exits == [("lb", -9)]
        assert injected.description == f"HAProxy master pid {pid} killed with SIGKILL"
        await wait_until(lambda: port_free(front))  # its workers left with it
        message = "nothing to undo for 'kill': the recovery starts HAProxy again"
        assert await drill.undo_fault(injected, ctx) == message
        assert await drill.undo_fault(injected, ctx) == message
        with pytest.raises(ProviderError) as caught:
            await drill.inject_fault("hang", ctx)
        assert str(caught.value) == (
            "provider 'haproxy' offers the faults kill; 'hang' is not one of them"
        )
    finally:
        await asyncio.wait_for(agent.close(stop_owned=True), 10)
