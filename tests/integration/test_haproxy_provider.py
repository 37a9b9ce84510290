"""The haproxy provider and the ``haproxy`` check against a REAL haproxy fronting two tiny HTTP
backends on free loopback ports: check classes, repoint_backend (live and persisted, with the
previous file kept), reload, restart after kill -9, adoption by a new provider instance."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from paramedic.catalog.model import Catalog, HaproxyCheck, Strategy
from paramedic.checks import CheckResult, FailureClass, run_check
from paramedic.checks.haproxy import info_fields, runtime_api
from paramedic.clock import RealClock
from paramedic.errors import ProviderError
from paramedic.providers.base import ActionContext, Provider
from paramedic.providers.local.haproxy import STOP_GRACE_S, HaproxyProvider
from paramedic.providers.local.haproxy_repoint import repoint_backend
from paramedic.providers.registry import build_provider
from tests.servers import free_port, need_binary

pytestmark = pytest.mark.integration

CLOCK = RealClock()
CONFIG = """\
global
    stats socket {sock} mode 600 level {level} expose-fd listeners

defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s

frontend fe
    bind 127.0.0.1:{front}
    default_backend app

backend app
    server web 127.0.0.1:{port} check inter 100 fall 1 rise 1
"""


class Backend:
    """A tiny HTTP server on a free loopback port answering ``body`` to every GET."""

    def __init__(self, body: bytes) -> None:
        class Answer(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.stopped = False

    def stop(self) -> None:
        """Stop answering and close the port (connections are refused from now on)."""
        if not self.stopped:
            self.stopped = True
            self.server.shutdown()
            self.server.server_close()


class Site:
    """haproxy.cfg, catalog and providers of one test in ``tmp_path``; all stopped at the end."""

    def __init__(self, base: Path, level: str = "admin") -> None:
        self.binary = need_binary("haproxy", "haproxy", ("/usr/sbin/haproxy",))
        self.base = base
        self.a, self.b = Backend(b"A"), Backend(b"B")
        self.front = free_port()
        self.sock = base / "s.sock"
        self.cfg = base / "haproxy.cfg"
        self.original = CONFIG.format(
            sock=self.sock, level=level, front=self.front, port=self.a.port
        )
        self.cfg.write_text(self.original)
        self.catalog = Catalog.model_validate(
            {
                "version": 1,
                "components": {
                    "lb": {
                        "type": "load_balancer",
                        "rto": "30s",
                        "rpo": "0s",
                        "provider": "haproxy",
                        "spec": {
                            "config": "haproxy.cfg",
                            "stats_socket": "s.sock",
                            "backend": "app",
                        },
                        "health": {
                            "check": "haproxy",
                            "stats_socket": str(self.sock),
                            "backend": "app",
                        },
                    }
                },
            }
        ).with_origin("paramedic.yaml", base)
        self.providers: list[HaproxyProvider] = []
        self.pids: set[int] = set()

    def provider(self) -> HaproxyProvider:
        """A new provider for ``lb`` (as a new agent run would build it)."""
        provider = HaproxyProvider(catalog=self.catalog, name="lb")
        self.providers.append(provider)
        return provider

    async def started(self) -> HaproxyProvider:
        """A provider whose haproxy runs and whose check passes."""
        provider = self.provider()
        await provider.start()
        self.track(provider)
        await self.until(lambda r: r.ok)
        return provider

    def track(self, provider: HaproxyProvider) -> int:
        """Remember the master pid of ``provider`` for the cleanup; returns it."""
        assert provider.pid is not None
        self.pids.add(provider.pid)
        return provider.pid

    async def check(self, **changes: Any) -> CheckResult:
        """The component's health check (with ``changes``), run through the check registry."""
        check = self.catalog.components["lb"].health.model_copy(update=changes)
        return await run_check(check, clock=CLOCK)

    async def until(
        self, wanted: Callable[[CheckResult], bool], within: float = 5.0
    ) -> CheckResult:
        """Run the check until ``wanted`` holds for its result (haproxy's own checks take 100ms)."""
        deadline = time.monotonic() + within
        while True:
            result = await self.check()
            if wanted(result):
                return result
            if time.monotonic() > deadline:
                raise AssertionError(f"check still {result.summary} after {within}s")
            await asyncio.sleep(0.05)

    async def get(self) -> str:
        """The body a request through haproxy gets."""

        def fetch() -> str:
            url = f"http://127.0.0.1:{self.front}/"
            with urllib.request.urlopen(url, timeout=3) as answer:
                return str(answer.read().decode())

        return await asyncio.to_thread(fetch)

    def backups(self) -> list[Path]:
        """The copies repoint_backend kept of the config."""
        return sorted(self.base.glob("haproxy.cfg.bak-*"))

    async def cleanup(self) -> None:
        """Stop every haproxy and both backends, even when the test failed."""
        for provider in self.providers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(provider.close(stop_owned=True), 10)
        for pid in self.pids:
            kill_group(pid)
        self.a.stop()
        self.b.stop()


def kill_group(pid: int) -> None:
    """Kill what is left of the process group ``pid`` (a stopped worker too) and reap its leader."""
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGCONT)
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    """A haproxy config fronting backends A and B (A in use), cleaned up afterwards."""
    s = Site(tmp_path)
    try:
        yield s
    finally:
        await s.cleanup()


async def wait_until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Wait for something the event loop delivers (an exit callback)."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {within}s")
        await asyncio.sleep(0.02)


def stopped(pid: int) -> bool:
    """True when every thread of ``pid`` is stopped by a signal (state T)."""
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return all((t / "stat").read_text().rsplit(")", 1)[1].split()[0] == "T" for t in tasks)


def step(**fields: Any) -> Strategy:
    """A strategy step as the catalog would hold it."""
    result: Strategy = TypeAdapter(Strategy).validate_python(fields)
    return result


def ctx(site: Site, incident: str = "inc-1", **extra: Any) -> ActionContext:
    """The context the recovery workflow gives step 0 of ``incident``."""
    catalog = site.catalog
    return ActionContext(
        incident_id=incident,
        step_index=0,
        component_name="lb",
        component=catalog.components["lb"],
        catalog=catalog,
        **extra,
    )


async def test_backend_down_then_repointed_persisted_and_reloaded(site: Site) -> None:
    provider = await site.started()
    pid = site.track(provider)
    assert (await site.check()).detail == "backend app: 1 of 1 server(s) UP (web UP)"
    assert await site.get() == "A"

    site.a.stop()
    down = await site.until(lambda r: not r.ok)
    assert down.failure == FailureClass.bad_response
    assert down.detail == "backend app: 0 of 1 server(s) UP, needs 1: web DOWN"

    said = await repoint_backend(site.catalog, "lb", "web", "127.0.0.1", site.b.port)
    [backup] = site.backups()
    assert said == (
        f"lb: app/web -> 127.0.0.1:{site.b.port} (was 127.0.0.1:{site.a.port}); "
        f"set live through the runtime API; {site.cfg} rewritten, previous file kept as {backup}"
    )
    await site.until(lambda r: r.ok)
    assert await site.get() == "B"
    assert site.cfg.read_text() == site.original.replace(
        f"127.0.0.1:{site.a.port} check", f"127.0.0.1:{site.b.port} check"
    )
    assert backup.read_text() == site.original

    again = await repoint_backend(site.catalog, "lb", "web", "127.0.0.1", site.b.port)
    assert again == (
        f"lb: app/web -> 127.0.0.1:{site.b.port}; set live through the runtime API; "
        f"{site.cfg} already names it"
    )
    assert site.backups() == [backup]

    before = info_fields(await runtime_api(str(site.sock), "show info"))["Pid"]
    reloaded = await provider.reload()
    after = reloaded.rsplit("worker ", 1)[1]
    assert after != before
    assert reloaded == f"reloaded {site.cfg} in lb (master pid {pid}): worker {after}"
    # the old worker may still answer on the socket while it finishes: soon only the new one does
    for _ in range(100):
        if info_fields(await runtime_api(str(site.sock), "show info"))["Pid"] == after:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"the stats socket never answered from the new worker {after}")
    assert provider.pid == pid
    await site.until(lambda r: r.ok)
    assert await site.get() == "B"


async def test_restart_after_kill_9_then_adopted_by_a_new_provider(site: Site) -> None:
    provider = await site.started()
    first = site.track(provider)
    exits: list[tuple[str, int | None]] = []
    provider.on_exit = lambda name, code: exits.append((name, code))

    os.kill(first, signal.SIGKILL)  # its worker follows it (a check may see a reset meanwhile)
    refused = await site.until(lambda r: r.failure == FailureClass.refused)
    assert refused.detail == f"connection refused on {site.sock}"
    await wait_until(lambda: bool(exits))
    assert exits == [("lb", -9)]

    done = await provider.carry_out(step(strategy="restart_service"), ctx(site))
    second = site.track(provider)
    assert second != first
    assert done.output == (
        f"restart_service of lb: pid {first} had exited with code -9 (SIGKILL); "
        f"pid {second} started, its stats socket answers"
    )
    assert (await site.check()).ok
    assert await site.get() == "A"

    repeated = await provider.carry_out(step(strategy="restart_service"), ctx(site))
    assert repeated.output == (
        f"{done.output} (already done for incident inc-1 step 0; "
        f"pid {second} still running, not started again)"
    )
    assert provider.pid == second

    await provider.close(stop_owned=False)  # the agent stops, haproxy stays
    successor = site.provider()
    await successor.start()
    assert successor.pid == second
    log = (site.base / "var" / "log" / "lb.log").read_text()
    assert f"adopted pid {second}, left running by a previous agent run" in log
    assert await site.get() == "A"


async def test_restart_of_a_sigstopped_haproxy_is_quick_and_says_it_was_stopped(
    site: Site,
) -> None:
    provider = await site.started()
    first = site.track(provider)
    os.killpg(first, signal.SIGSTOP)  # master and worker hung

    began = time.monotonic()
    done = await provider.carry_out(step(strategy="restart_service"), ctx(site))
    took = time.monotonic() - began

    second = site.track(provider)
    assert second != first
    assert took < STOP_GRACE_S / 2, f"restart took {took:.1f}s: SIGTERM waited for a stopped master"
    assert done.output.startswith(
        f"restart_service of lb: pid {first} was stopped (state T); sent SIGCONT after SIGTERM; "
        f"pid {first} stopped ("
    )
    assert await site.get() == "A"


async def test_check_classes_refused_timeout_and_bad_backend(site: Site) -> None:
    absent = await site.check()
    assert absent.failure == FailureClass.refused
    assert absent.detail == f"no stats socket at {site.sock} (is haproxy running?)"

    provider = await site.started()
    site.track(provider)
    unknown = await site.check(backend="nope")
    assert (unknown.failure, unknown.detail) == (
        FailureClass.bad_response,
        "backend nope is not in show stat; backends: app",
    )
    short = await site.check(min_up=2)
    assert short.detail == "backend app: 1 of 1 server(s) UP, needs 2: web UP"
    only_info = await site.check(backend=None)
    assert only_info.ok and only_info.detail.startswith("HAProxy 2.")

    worker = int(info_fields(await runtime_api(str(site.sock), "show info"))["Pid"])
    os.kill(worker, signal.SIGSTOP)
    try:
        await wait_until(lambda: stopped(worker))
        hung = await run_check(
            HaproxyCheck(check="haproxy", stats_socket=str(site.sock), timeout="300ms"),
            clock=CLOCK,
        )
    finally:
        os.kill(worker, signal.SIGCONT)
    assert (hung.failure, hung.detail) == (FailureClass.timeout, "no answer within 300ms")


async def test_invalid_config_leaves_the_running_haproxy_alone(site: Site) -> None:
    provider = await site.started()
    pid = site.track(provider)
    site.cfg.write_text(site.original + "    bogus-keyword\n")
    invalid = f"component 'lb': `{site.binary} -c -f {site.cfg}` found the config invalid: "
    with pytest.raises(ProviderError) as restart:
        await provider.carry_out(step(strategy="restart_service"), ctx(site))
    assert str(restart.value).startswith(invalid)
    assert "bogus-keyword" in str(restart.value)
    with pytest.raises(ProviderError) as reload:
        await provider.reload()
    assert str(reload.value).startswith(invalid)
    assert provider.pid == pid
    assert (await site.check()).ok


async def test_restart_says_why_haproxy_did_not_start(site: Site) -> None:
    with socket.socket() as squatter:  # holds the frontend port without SO_REUSEPORT
        squatter.bind(("127.0.0.1", site.front))
        squatter.listen()
        provider = site.provider()
        with pytest.raises(ProviderError) as failed:
            await provider.carry_out(step(strategy="restart_service"), ctx(site))
    log = site.base / "var" / "log" / "lb.log"
    assert re.fullmatch(
        r"component 'lb': haproxy pid \d+ exited with code 1 while starting: "
        + re.escape(
            f"Binding [{site.cfg}:11] for frontend fe: cannot bind socket (Address already in "
            f"use) for [127.0.0.1:{site.front}] | [{site.binary}.main()] Some protocols failed "
            f"to start their listeners! Exiting.; see {log}"
        ),
        str(failed.value),
    ), str(failed.value)
    assert provider.pid is None


async def test_repoint_refusals_change_nothing(site: Site) -> None:
    with pytest.raises(ProviderError) as unknown:
        await repoint_backend(site.catalog, "lb", "nope", "127.0.0.1", site.b.port)
    assert str(unknown.value) == (
        f"component 'lb': {site.cfg}: no `server nope ADDRESS:PORT` line in backend app; "
        "add it or fix the name"
    )
    with pytest.raises(ProviderError) as port:
        await repoint_backend(site.catalog, "lb", "web", "127.0.0.1", 70000)
    assert str(port.value) == (
        "component 'lb': port 70000 is out of range; give a port from 1 to 65535"
    )
    site.cfg.write_text(site.original.replace("level admin", "level user"))
    provider = await site.started()
    site.track(provider)
    with pytest.raises(ProviderError) as denied:
        await repoint_backend(site.catalog, "lb", "web", "127.0.0.1", site.b.port)
    assert str(denied.value) == (
        f"component 'lb': HAProxy refused `set server app/web addr 127.0.0.1 port "
        f"{site.b.port}`: Permission denied; {site.cfg} left as it was"
    )
    assert site.cfg.read_text() == site.original.replace("level admin", "level user")
    assert site.backups() == []
    assert sorted(p.name for p in site.base.iterdir() if p.name.startswith(".haproxy")) == []
    assert await site.get() == "A"


async def test_repoint_while_stopped_applies_at_start(site: Site) -> None:
    said = await repoint_backend(site.catalog, "lb", "web", "127.0.0.1", site.b.port)
    [backup] = site.backups()
    assert said == (
        f"lb: app/web -> 127.0.0.1:{site.b.port} (was 127.0.0.1:{site.a.port}); "
        f"haproxy is not running (the file applies when it starts); "
        f"{site.cfg} rewritten, previous file kept as {backup}"
    )
    provider = await site.started()
    site.track(provider)
    assert await site.get() == "B"


async def test_built_by_the_registry_describes_and_runs(site: Site) -> None:
    provider = build_provider(site.catalog, "lb")
    assert isinstance(provider, HaproxyProvider)
    assert isinstance(provider, Provider)
    restart = step(strategy="restart_service")
    pidfile = site.base / "var" / "run" / "lb" / "haproxy.pid"
    assert provider.describe(restart) == (
        f"check {site.cfg} with `haproxy -c`, stop lb (SIGTERM to master and workers, SIGKILL "
        f"after 5s) and start `{site.binary} -W -db -f {site.cfg} -p {pidfile}` again"
    )
    dry = await provider.carry_out(restart, ctx(site, dry_run=True))
    assert dry.output == provider.describe(restart)
    assert provider.pid is None

    ran = await provider.carry_out(
        step(strategy="run", command="/bin/sh -c 'echo $HAPROXY_CONFIG $PARAMEDIC_INCIDENT'"),
        ctx(site, incident="inc-7"),
    )
    assert ran.output == f"{site.cfg} inc-7"
    with pytest.raises(ProviderError) as unsupported:
        await provider.carry_out(step(strategy="scale_out"), ctx(site))
    assert str(unsupported.value) == (
        "component 'lb': the haproxy provider cannot carry out scale_out; "
        "use restart_service or run"
    )
    with pytest.raises(ProviderError) as no_reload:
        await provider.reload()
    assert str(no_reload.value) == (
        "component 'lb': haproxy is not running, nothing to reload; use restart_service"
    )


async def test_taken_over_start_adopts_a_running_haproxy_and_never_starts_a_stopped_one(
    site: Site,
) -> None:
    """start_if_down False (taken over from another agent): adopt only."""
    first = await site.started()
    pid = site.track(first)
    await first.close(stop_owned=False)
    taker = site.provider()
    taker.start_if_down = False
    await taker.start()
    assert taker.pid == pid
    await taker.close(stop_owned=True)
    down = site.provider()
    down.start_if_down = False
    await down.start()
    assert down.pid is None
    assert not (await site.check()).ok
