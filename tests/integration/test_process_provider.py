"""The process provider against REAL child processes: start, exit seen at once, restart,
stop with grace, replace, scale out, run, driven components, idempotency, adoption."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import re
import shlex
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from subprocess import PIPE
from typing import Any

import pytest
from pydantic import TypeAdapter

from paramedic.catalog.model import Catalog, Strategy
from paramedic.clock import FakeClock
from paramedic.errors import ProviderError
from paramedic.providers.base import ActionContext, Provider
from paramedic.providers.local.process import ProcessProvider
from paramedic.providers.local.process_spec import ProcessSpec
from paramedic.providers.local.supervise import ProcessRecord
from paramedic.providers.registry import build_provider
from tests.servers import free_port, wait_port

pytestmark = pytest.mark.integration

PY = sys.executable
SLEEPER = [PY, "-c", "import time; print('up', flush=True); time.sleep(60)"]
IGNORES_TERM = [
    PY,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)",
]
SERVER = """\
import http.server, os
port = int(os.environ["PORT"])
handler = http.server.SimpleHTTPRequestHandler
http.server.ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
"""
AGENT = """\
import asyncio, json, sys
from pathlib import Path
from subprocess import PIPE
from paramedic.catalog.model import Catalog
from paramedic.providers.local.process import ProcessProvider

async def main() -> None:
    base = Path(sys.argv[2])
    catalog = Catalog.model_validate(json.loads(sys.argv[1])).with_origin("paramedic.yaml", base)
    provider = ProcessProvider(catalog=catalog, name="web")
    await provider.start()
    print(provider.pid, flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


def catalog_data(spec: dict[str, Any]) -> dict[str, Any]:
    """A one-component catalog whose ``web`` runs with ``spec``."""
    return {
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


def make_catalog(base: Path, spec: dict[str, Any]) -> Catalog:
    """The catalog, as if loaded from ``base/paramedic.yaml``."""
    return Catalog.model_validate(catalog_data(spec)).with_origin("paramedic.yaml", base)


def step(**fields: Any) -> Strategy:
    """A strategy step as the catalog would hold it."""
    result: Strategy = TypeAdapter(Strategy).validate_python(fields)
    return result


def ctx(catalog: Catalog, incident: str = "inc-1", index: int = 0, **extra: Any) -> ActionContext:
    """The context the recovery workflow gives a step."""
    return ActionContext(
        incident_id=incident,
        step_index=index,
        component_name="web",
        component=catalog.components["web"],
        catalog=catalog,
        **extra,
    )


async def wait_until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Wait for something another process does (a log line, a file)."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {within}s")
        await asyncio.sleep(0.02)


def printed(base: Path, line: str) -> bool:
    """True when the component's process printed ``line`` (a line of its own, not ours)."""
    return line in log_of(base).splitlines()


def reap(pid: int) -> None:
    """Collect the exit status of ``pid`` if it is a child of this test process."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def log_of(base: Path, name: str = "web") -> str:
    """The component's log file."""
    return (base / "var" / "log" / f"{name}.log").read_text()


def gone(pid: int) -> bool:
    """True when ``pid`` has exited (a zombie counts as gone)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


class Harness:
    """Builds providers on ``tmp_path`` and remembers every process, to kill them afterwards."""

    def __init__(self, base: Path, clock: FakeClock) -> None:
        self.base = base
        self.clock = clock
        self.providers: list[ProcessProvider] = []
        self.pids: set[int] = set()

    def provider(self, spec: dict[str, Any], **kwargs: Any) -> ProcessProvider:
        """A provider for ``web`` with ``spec``, closed (stopping its processes) at the end."""
        provider = ProcessProvider(catalog=make_catalog(self.base, spec), name="web", **kwargs)
        self.providers.append(provider)
        return provider

    def track(self, pid: int | None) -> int:
        """Remember ``pid`` for the cleanup; returns it."""
        assert pid is not None
        self.pids.add(pid)
        return pid

    async def cleanup(self) -> None:
        """Stop every provider's processes, then kill and reap whatever is left."""
        for provider in self.providers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(provider.close(stop_owned=True), 10)
        for pid in self.pids:
            if not gone(pid):
                with contextlib.suppress(OSError):
                    os.killpg(pid, signal.SIGKILL)
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            reap(pid)


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    """Providers and processes of one test, all killed at the end even when the test fails."""
    h = Harness(tmp_path, FakeClock())
    try:
        yield h
    finally:
        await h.cleanup()


@pytest.fixture
def subreaper() -> Iterator[None]:
    """Make this test process the reaper of orphans, so a killed agent's children stay ours."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_child_subreaper = 36
    libc.prctl(pr_set_child_subreaper, 1, 0, 0, 0)
    try:
        yield
    finally:
        libc.prctl(pr_set_child_subreaper, 0, 0, 0, 0)


# ---------------------------------------------------------------- start and state


async def test_start_runs_the_command_in_its_cwd_with_its_env_and_port(harness: Harness) -> None:
    site = harness.base / "site"
    site.mkdir()
    program = (
        "import os, time; "
        "open('seen', 'w').write(os.environ['PORT'] + ' ' + os.environ['GREETING']); "
        "time.sleep(60)"
    )
    provider = harness.provider(
        {"command": [PY, "-c", program], "cwd": "site", "port": 8123, "env": {"GREETING": "hi"}},
        clock=harness.clock,
    )
    assert isinstance(provider, Provider)

    await provider.start()
    pid = harness.track(provider.pid)

    await wait_until(lambda: (site / "seen").exists() and (site / "seen").read_text() != "")
    assert (site / "seen").read_text() == "8123 hi"
    assert provider.process_state() == (True, f"pid {pid} running for 0s")
    assert os.getpgid(pid) == pid  # its own process group, so it survives the agent
    assert provider.start_count == 1
    assert f"web: started pid {pid} (agent start): {shlex.join([PY, '-c', program])}" in log_of(
        harness.base
    )
    record = ProcessRecord.load(harness.base / "var" / "run" / "web" / "primary.pid")
    assert record is not None and record.pid == pid and record.argv == [PY, "-c", program]


async def test_the_registry_builds_it_for_a_process_component(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path, {"command": SLEEPER})
    assert isinstance(build_provider(catalog, "web"), ProcessProvider)


async def test_exit_is_seen_at_once_and_reported_to_on_exit(harness: Harness) -> None:
    provider = harness.provider({"command": SLEEPER}, clock=harness.clock)
    exited = asyncio.Event()
    calls: list[tuple[str, int | None, float]] = []

    def on_exit(name: str, code: int | None) -> None:
        calls.append((name, code, time.monotonic()))
        exited.set()

    provider.on_exit = on_exit
    await provider.start()
    pid = harness.track(provider.pid)

    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    await asyncio.wait_for(exited.wait(), 1.0)

    assert [(name, code) for name, code, _ in calls] == [("web", -9)]
    assert calls[0][2] - killed_at < 0.5
    assert provider.process_state() == (False, f"pid {pid} exited with code -9 (SIGKILL) 0.0s ago")
    harness.clock.advance(0.3)
    assert provider.process_state() == (False, f"pid {pid} exited with code -9 (SIGKILL) 0.3s ago")
    assert f"web: pid {pid} exited with code -9 (SIGKILL)" in log_of(harness.base)


async def test_shell_command_is_one_line_given_to_sh(harness: Harness) -> None:
    spec = {"command": "echo $PORT > port.txt; exec sleep 60", "shell": True, "port": 9001}
    assert ProcessSpec.model_validate(spec).command == ["echo $PORT > port.txt; exec sleep 60"]
    provider = harness.provider({**spec, "cwd": "."})
    await provider.start()
    harness.track(provider.pid)
    await wait_until(lambda: (harness.base / "port.txt").exists())
    await wait_until(lambda: (harness.base / "port.txt").read_text() == "9001\n")


# ---------------------------------------------------------------- restart_service


async def test_restart_after_sigkill_starts_a_new_pid_and_logs_both_starts(
    harness: Harness,
) -> None:
    provider = harness.provider({"command": SLEEPER})
    exited = asyncio.Event()
    provider.on_exit = lambda _name, _code: exited.set()
    await provider.start()
    old = harness.track(provider.pid)
    os.kill(old, signal.SIGKILL)
    await asyncio.wait_for(exited.wait(), 1.0)

    catalog = provider.catalog
    result = await provider.carry_out(step(strategy="restart_service"), ctx(catalog))
    new = harness.track(provider.pid)

    assert new != old
    assert provider.start_count == 2
    assert result.output == (
        f"restart_service of web: pid {old} had exited with code -9 (SIGKILL); pid {new} started"
    )
    assert result.detail == {"pid": new, "start_count": 2}
    log = log_of(harness.base)
    assert f"started pid {old} (agent start)" in log
    assert f"started pid {new} (restart_service for incident inc-1)" in log
    alive, detail = provider.process_state()
    assert alive and detail.startswith(f"pid {new} running for ")


async def test_stop_sends_the_stop_signal_and_a_polite_process_exits_within_grace(
    harness: Harness,
) -> None:
    provider = harness.provider({"command": SLEEPER, "stop_grace": "5s"})
    await provider.start()
    old = harness.track(provider.pid)
    await wait_until(lambda: printed(harness.base, "up"))

    began = time.monotonic()
    result = await provider.carry_out(step(strategy="restart_service"), ctx(provider.catalog))
    harness.track(provider.pid)

    assert time.monotonic() - began < 2
    assert f"pid {old} stopped (exited with code -15 (SIGTERM))" in result.output


async def test_stop_kills_a_process_ignoring_sigterm_after_the_grace(harness: Harness) -> None:
    provider = harness.provider({"command": IGNORES_TERM, "stop_grace": "300ms"})
    await provider.start()
    old = harness.track(provider.pid)
    await wait_until(lambda: printed(harness.base, "ready"))

    began = time.monotonic()
    result = await provider.carry_out(step(strategy="restart_service"), ctx(provider.catalog))
    harness.track(provider.pid)

    assert time.monotonic() - began >= 0.3
    assert f"pid {old} stopped (exited with code -9 (SIGKILL))" in result.output
    assert f"web: pid {old} still running 0.3s after SIGTERM: SIGKILL" in log_of(harness.base)


async def test_a_repeated_step_does_not_restart_twice(harness: Harness) -> None:
    provider = harness.provider({"command": SLEEPER})
    await provider.start()
    harness.track(provider.pid)
    restart = step(strategy="restart_service")

    first = await provider.carry_out(restart, ctx(provider.catalog, "inc-9", 2))
    pid = harness.track(provider.pid)
    again = await provider.carry_out(restart, ctx(provider.catalog, "inc-9", 2))

    assert provider.start_count == 2
    assert provider.pid == pid
    assert again.output == (
        f"{first.output} (already done for incident inc-9 step 2; "
        f"pid {pid} still running, not started again)"
    )
    assert again.detail == {"pid": pid, "start_count": 2, "repeated": True}

    # Another agent run (a new provider) sees the same marker.
    harness.providers.remove(provider)
    await provider.close(stop_owned=False)
    later = harness.provider({"command": SLEEPER})
    await later.start()
    await later.carry_out(restart, ctx(later.catalog, "inc-9", 2))
    assert (later.pid, later.start_count) == (pid, 2)

    # Once the process it started has died, the same step starts it again.
    os.kill(pid, signal.SIGKILL)
    await wait_until(lambda: later.pid is None)
    await later.carry_out(restart, ctx(later.catalog, "inc-9", 2))
    harness.track(later.pid)
    assert later.start_count == 3
    reap(pid)


async def test_a_cancelled_restart_leaves_no_half_stopped_process(harness: Harness) -> None:
    provider = harness.provider({"command": IGNORES_TERM, "stop_grace": "30s"})
    await provider.start()
    old = harness.track(provider.pid)
    await wait_until(lambda: printed(harness.base, "ready"))
    restart = step(strategy="restart_service")

    task = asyncio.create_task(provider.carry_out(restart, ctx(provider.catalog)))
    await wait_until(lambda: f"stopping pid {old}" in log_of(harness.base))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(lambda: gone(old), within=1.0)

    # The workflow calls the step again: it finishes it, once.
    await provider.carry_out(restart, ctx(provider.catalog))
    new = harness.track(provider.pid)
    assert provider.start_count == 2
    os.killpg(new, signal.SIGKILL)  # it ignores SIGTERM: spare the cleanup its 30s grace


async def test_dry_run_does_nothing_and_says_what_it_would_do(harness: Harness) -> None:
    provider = harness.provider({"command": SLEEPER})
    await provider.start()
    pid = harness.track(provider.pid)
    restart = step(strategy="restart_service")

    result = await provider.carry_out(restart, ctx(provider.catalog, dry_run=True))

    assert result.output == (
        f"stop web (SIGTERM, then SIGKILL after 10s) and start `{shlex.join(SLEEPER)}` again"
    )
    assert (provider.pid, provider.start_count) == (pid, 1)


# ---------------------------------------------------------------- replace_instance


async def test_replace_instance_moves_the_old_cwd_aside_and_starts_from_the_template(
    harness: Harness,
) -> None:
    site, template = harness.base / "site", harness.base / "template"
    site.mkdir()
    (site / "orders.db").write_text("precious rows")
    template.mkdir()
    (template / "index.html").write_text("<h1>fresh</h1>")
    provider = harness.provider({"command": SLEEPER, "cwd": "site", "template_dir": "template"})
    await provider.start()
    old = harness.track(provider.pid)

    result = await provider.carry_out(
        step(strategy="replace_instance"), ctx(provider.catalog, "inc-7", 1)
    )
    new = harness.track(provider.pid)

    aside = harness.base / "site.replaced-inc-7"
    assert (aside / "orders.db").read_text() == "precious rows"
    assert sorted(p.name for p in site.iterdir()) == ["index.html"]
    assert os.readlink(f"/proc/{new}/cwd") == str(site)
    assert result.output == (
        f"replace_instance of web: pid {old} stopped (exited with code -15 (SIGTERM)); "
        f"old working directory moved aside to {aside}; pid {new} started"
    )
    assert result.detail["moved_aside"] == str(aside)


async def test_replace_instance_with_a_missing_template_stops_nothing(harness: Harness) -> None:
    (harness.base / "site").mkdir()
    provider = harness.provider({"command": SLEEPER, "cwd": "site", "template_dir": "nope"})
    await provider.start()
    pid = harness.track(provider.pid)

    with pytest.raises(ProviderError) as exc:
        await provider.carry_out(step(strategy="replace_instance"), ctx(provider.catalog))

    assert str(exc.value) == (
        f"component 'web': template_dir {harness.base / 'nope'} does not exist; "
        "create it or fix spec.template_dir"
    )
    assert provider.pid == pid


# ---------------------------------------------------------------- scale_out


async def test_scale_out_starts_instances_listening_on_the_range(harness: Harness) -> None:
    (harness.base / "server.py").write_text(SERVER)
    first = free_port()
    provider = harness.provider(
        {"command": [PY, "server.py"], "port_range": f"{first}-{first + 20}", "cwd": "."}
    )
    result = await provider.carry_out(step(strategy="scale_out", count=2), ctx(provider.catalog))
    ports = provider.instance_ports
    pids = [harness.track(i["pid"]) for i in result.detail["instances"]]

    assert len(ports) == 2 and all(first <= p <= first + 20 for p in ports)
    for port in ports:
        wait_port(port, timeout=5)
        assert f"web:{port}: started pid " in log_of(harness.base, f"web.{port}")
    assert result.output == (
        f"scale_out of web: 2 more instance(s): pid {pids[0]} on port {ports[0]}, "
        f"pid {pids[1]} on port {ports[1]}"
    )

    await provider.close(stop_owned=True)
    assert all(gone(pid) for pid in pids)
    for port in ports:
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            pass


async def test_scale_out_says_when_the_port_range_is_exhausted(harness: Harness) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        provider = harness.provider({"command": SLEEPER, "port_range": [port, port]})
        with pytest.raises(ProviderError) as exc:
            await provider.carry_out(step(strategy="scale_out"), ctx(provider.catalog))
    assert str(exc.value) == (
        f"component 'web': spec.port_range {port}-{port} has 0 free port(s), "
        "1 needed for scale_out; widen port_range"
    )


async def test_scale_out_without_a_port_range_names_the_fix(harness: Harness) -> None:
    provider = harness.provider({"command": SLEEPER})
    with pytest.raises(ProviderError) as exc:
        await provider.carry_out(step(strategy="scale_out"), ctx(provider.catalog))
    assert str(exc.value) == (
        "component 'web': scale_out needs spec.port_range, e.g. port_range: 8081-8089"
    )


# ---------------------------------------------------------------- run


async def test_run_gives_the_command_the_incident_and_component(harness: Harness) -> None:
    provider = harness.provider({"command": SLEEPER})
    program = (
        "import os; env = os.environ; print(env['PARAMEDIC_INCIDENT'], env['PARAMEDIC_COMPONENT'])"
    )
    result = await provider.carry_out(
        step(strategy="run", command=[PY, "-c", program]), ctx(provider.catalog, "inc-4")
    )
    assert result.output == "inc-4 web"
    assert result.detail == {"exit_code": 0}


async def test_run_through_the_shell_keeps_the_line_whole(harness: Harness) -> None:
    provider = harness.provider({"command": SLEEPER})
    run = step(strategy="run", command="echo $PARAMEDIC_COMPONENT > out.txt", shell=True)
    await provider.carry_out(run, ctx(provider.catalog))
    assert (harness.base / "out.txt").read_text() == "web\n"


async def test_run_failure_names_the_exit_code_and_the_last_lines(harness: Harness) -> None:
    provider = harness.provider({"command": SLEEPER})
    script = "echo one; echo two; echo three; echo password=hunter2 >&2; exit 3"
    with pytest.raises(ProviderError) as exc:
        await provider.carry_out(
            step(strategy="run", command=["sh", "-c", script]), ctx(provider.catalog)
        )
    assert str(exc.value) == (
        f"component 'web': run `sh -c '{script.replace('hunter2', '***')}'` exited with code 3: "
        "two | three | password=***"
    )


async def test_run_of_a_missing_program_names_the_step(harness: Harness) -> None:
    provider = harness.provider({"command": SLEEPER})
    with pytest.raises(ProviderError) as exc:
        await provider.carry_out(
            step(strategy="run", command=["no-such-program-xyz"]), ctx(provider.catalog, index=3)
        )
    assert str(exc.value) == (
        "component 'web': recovery[3].command: program 'no-such-program-xyz' not found; "
        "give a program on PATH or an absolute path"
    )


async def test_a_cancelled_run_leaves_no_orphan(harness: Harness) -> None:
    provider = harness.provider({"command": SLEEPER})
    script = "sleep 30 & echo $! > child.pid; wait"
    task = asyncio.create_task(
        provider.carry_out(
            step(strategy="run", command=["sh", "-c", script]), ctx(provider.catalog)
        )
    )
    child_pid = harness.base / "child.pid"
    await wait_until(lambda: child_pid.exists() and child_pid.read_text().strip() != "")
    grandchild = harness.track(int(child_pid.read_text()))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await wait_until(lambda: gone(grandchild), within=1.0)


async def test_a_repeated_run_step_is_not_run_again(harness: Harness) -> None:
    provider = harness.provider({"command": SLEEPER})
    run = step(strategy="run", command=["sh", "-c", "echo ran >> runs.txt; echo ok"])
    first = await provider.carry_out(run, ctx(provider.catalog, "inc-2", 0))
    again = await provider.carry_out(run, ctx(provider.catalog, "inc-2", 0))
    assert (harness.base / "runs.txt").read_text() == "ran\n"
    assert first.output == "ok"
    assert again.output == "ok (already done for incident inc-2 step 0; not repeated)"


# ---------------------------------------------------------------- components paramedic does not own


async def test_restart_command_of_a_driven_component(harness: Harness) -> None:
    (harness.base / "svc").mkdir()
    command = ["sh", "-c", "echo restarted >> restarts.txt; echo service restarted"]
    provider = harness.provider({"restart_command": command, "cwd": "svc"})
    await provider.start()

    result = await provider.carry_out(step(strategy="restart_service"), ctx(provider.catalog))

    assert result.output == f"$ {shlex.join(command)}\nservice restarted"
    assert (harness.base / "svc" / "restarts.txt").read_text() == "restarted\n"
    assert provider.process_state() == (
        False,
        "component 'web' has no spec.command: paramedic does not run it",
    )
    assert provider.start_count == 0


async def test_stop_then_start_commands_and_a_failing_one(harness: Harness) -> None:
    provider = harness.provider(
        {
            "stop_command": ["sh", "-c", "echo stop >> calls.txt"],
            "start_command": ["sh", "-c", "echo start >> calls.txt"],
            "cwd": ".",
        }
    )
    await provider.carry_out(step(strategy="restart_service"), ctx(provider.catalog))
    assert (harness.base / "calls.txt").read_text() == "stop\nstart\n"

    failing = harness.provider({"restart_command": "sh -c 'echo boom; exit 4'"})
    with pytest.raises(ProviderError) as exc:
        await failing.carry_out(step(strategy="restart_service"), ctx(failing.catalog, "inc-2"))
    assert str(exc.value) == (
        "component 'web': spec.restart_command `sh -c 'echo boom; exit 4'` exited with code 4: boom"
    )


async def test_strategies_that_need_an_owned_process_say_so(harness: Harness) -> None:
    provider = harness.provider({"restart_command": ["true"]})
    with pytest.raises(ProviderError) as exc:
        await provider.carry_out(step(strategy="replace_instance"), ctx(provider.catalog))
    assert str(exc.value) == (
        "component 'web': replace_instance needs spec.command (a process paramedic runs "
        "itself); give command, or use restart_service with restart_command"
    )
    with pytest.raises(ProviderError) as exc:
        await provider.carry_out(step(strategy="failover_to_standby"), ctx(provider.catalog))
    assert str(exc.value) == (
        "component 'web': the process provider cannot carry out failover_to_standby; "
        "use one of restart_service, replace_instance, scale_out, run"
    )


# ---------------------------------------------------------------- errors a user can cause


async def test_a_missing_program_names_the_component_and_the_fix(harness: Harness) -> None:
    provider = harness.provider({"command": ["no-such-program-xyz", "--serve"]})
    with pytest.raises(ProviderError) as exc:
        await provider.start()
    assert str(exc.value) == (
        "component 'web': spec.command: program 'no-such-program-xyz' not found; "
        "give a program on PATH or an absolute path"
    )


async def test_a_missing_cwd_names_the_component_and_the_fix(harness: Harness) -> None:
    provider = harness.provider({"command": SLEEPER, "cwd": "missing"})
    with pytest.raises(ProviderError) as exc:
        await provider.start()
    assert str(exc.value) == (
        f"component 'web': working directory {harness.base / 'missing'} does not exist; "
        "create it or fix spec.cwd"
    )


# ---------------------------------------------------------------- agent restarts


async def test_a_new_agent_adopts_the_process_and_sees_its_exit_via_pidfd(
    harness: Harness, subreaper: None
) -> None:
    data = catalog_data({"command": SLEEPER})
    (harness.base / "agent.py").write_text(AGENT)
    agent = await asyncio.create_subprocess_exec(
        PY, "agent.py", json.dumps(data), str(harness.base), cwd=harness.base, stdout=PIPE
    )
    try:
        assert agent.stdout is not None
        pid = harness.track(int(await asyncio.wait_for(agent.stdout.readline(), 10)))
    finally:
        agent.kill()  # the agent dies by SIGKILL ...
        await agent.wait()
    assert not gone(pid)  # ... its process lives on

    provider = harness.provider({"command": SLEEPER}, clock=harness.clock)
    calls: list[tuple[str, int | None]] = []
    exited = asyncio.Event()

    def on_exit(name: str, code: int | None) -> None:
        calls.append((name, code))
        exited.set()

    provider.on_exit = on_exit
    await provider.start()

    assert (provider.pid, provider.start_count) == (pid, 1)
    alive, detail = provider.process_state()
    assert alive and re.fullmatch(rf"pid {pid} running for \d+s", detail)
    assert f"web: adopted pid {pid}, left running by a previous agent run" in log_of(harness.base)

    killed_at = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    await asyncio.wait_for(exited.wait(), 1.0)
    assert time.monotonic() - killed_at < 0.5
    assert calls == [("web", None)]
    assert provider.process_state() == (
        False,
        f"pid {pid} exited (exit code unknown: adopted from a previous agent run) 0.0s ago",
    )


async def test_close_without_stopping_leaves_it_running_for_the_next_run(
    harness: Harness,
) -> None:
    provider = harness.provider({"command": SLEEPER})
    await provider.start()
    pid = harness.track(provider.pid)

    await provider.close(stop_owned=False)
    assert not gone(pid)

    later = harness.provider({"command": SLEEPER})
    await later.start()
    assert (later.pid, later.start_count) == (pid, 1)


async def test_two_agents_starting_at_once_on_one_run_dir_start_the_process_once(
    harness: Harness, subreaper: None
) -> None:
    """Agents of one host share the run dir: the start lock makes the second one adopt."""
    data = catalog_data({"command": SLEEPER})
    go = harness.base / "go"
    at_once = AGENT.replace(
        "    await provider.start()",
        f"    while not Path({str(go)!r}).exists():\n        await asyncio.sleep(0.001)\n"
        "    await provider.start()",
    )
    (harness.base / "agent.py").write_text(at_once)
    agents = [
        await asyncio.create_subprocess_exec(
            PY, "agent.py", json.dumps(data), str(harness.base), cwd=harness.base, stdout=PIPE
        )
        for _ in range(4)
    ]
    await asyncio.sleep(1.5)  # every agent imported and waiting
    go.touch()
    try:
        pids = set()
        for agent in agents:
            assert agent.stdout is not None
            pids.add(harness.track(int(await asyncio.wait_for(agent.stdout.readline(), 20))))
    finally:
        for agent in agents:
            agent.kill()
            await agent.wait()
    assert len(pids) == 1, pids
    assert log_of(harness.base).count("web: started pid") == 1, log_of(harness.base)


async def test_a_stranger_with_the_recorded_pid_is_neither_adopted_nor_signalled(
    harness: Harness,
) -> None:
    provider = harness.provider({"command": SLEEPER})
    await provider.start()
    pid = harness.track(provider.pid)
    await provider.close(stop_owned=False)
    pid_file = harness.base / "var" / "run" / "web" / "primary.pid"
    record = ProcessRecord.load(pid_file)
    assert record is not None
    record.start_time += 1  # as if the pid now belonged to another process
    record.save(pid_file)

    later = harness.provider({"command": SLEEPER})
    await later.start()

    assert later.pid != pid and later.start_count == 2
    assert not gone(pid)  # not ours by its identity: left alone
    harness.track(later.pid)


async def test_a_changed_command_is_not_adopted(harness: Harness) -> None:
    provider = harness.provider({"command": SLEEPER})
    await provider.start()
    old = harness.track(provider.pid)
    await provider.close(stop_owned=False)

    changed = [*SLEEPER, "--changed"]
    later = harness.provider({"command": changed})
    await later.start()
    new = harness.track(later.pid)

    assert new != old and gone(old)
    assert later.start_count == 2
    log = log_of(harness.base)
    assert f"started pid {new} (agent start; command changed in the catalog)" in log


async def test_close_stopping_leaves_no_process_of_the_group(
    harness: Harness, subreaper: None
) -> None:
    command = ["sh", "-c", "sleep 60 & echo $! > kid.pid; wait"]
    provider = harness.provider({"command": command}, clock=harness.clock)
    await provider.start()
    pid = harness.track(provider.pid)
    kid_file = harness.base / "kid.pid"
    await wait_until(lambda: kid_file.exists() and kid_file.read_text().strip() != "")
    kid = harness.track(int(kid_file.read_text()))

    await provider.close(stop_owned=True)

    assert gone(pid)
    await wait_until(lambda: gone(kid), within=1.0)
    reap(kid)  # an orphan of the group, reparented to this test (the subreaper)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert provider.process_state() == (
        False,
        f"pid {pid} stopped by paramedic (agent stopping) 0.0s ago",
    )


def test_an_invalid_spec_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    catalog = make_catalog(tmp_path, {"cwd": "site"})
    with pytest.raises(ProviderError) as exc:
        ProcessProvider(catalog=catalog, name="web")
    assert str(exc.value) == (
        "component 'web': spec: give command (a process paramedic owns) or "
        "restart_command/start_command; fix it in the catalog"
    )


async def test_taken_over_start_adopts_a_running_process_and_never_starts_a_stopped_one(
    harness: Harness,
) -> None:
    """start_if_down False (taken over from another agent): adopt only."""
    spec = {"command": [PY, "-c", "import time; time.sleep(60)"]}
    first = harness.provider(spec, clock=harness.clock)
    await first.start()
    pid = harness.track(first.pid)
    await first.close(stop_owned=False)  # the previous owner let go; the process stays

    taker = harness.provider(spec, clock=harness.clock)
    taker.start_if_down = False
    await taker.start()
    assert taker.pid == pid  # adopted

    await taker.close(stop_owned=True)
    fresh = harness.provider(spec, clock=harness.clock)
    fresh.start_if_down = False
    await fresh.start()
    assert fresh.pid is None  # nothing started: its check finds it down
    assert fresh.process_state()[0] is False
