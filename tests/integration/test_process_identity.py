"""Which process is ours, on REAL processes: pid + start time + session, a launcher's exec,
an agent killed between the fork and the pid file, a step marker that agrees with adoption,
and a SIGSTOPped process stopped at once (SIGCONT after the stop signal)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from paramedic.clock import FakeClock
from paramedic.providers.local.procfs import (
    find_by_environ,
    is_same_process,
    proc_cmdline,
    proc_stat,
    stopped_in_group,
)
from paramedic.providers.local.supervise import INSTANCE_ENV, ProcessRecord
from tests.integration.test_process_provider import (
    PY,
    SLEEPER,
    Harness,
    ctx,
    gone,
    log_of,
    step,
    wait_until,
)

pytestmark = pytest.mark.integration

# A launcher that execs its daemon: the pid stays, the command line changes.
LAUNCHER = ["sh", "-c", f"exec {PY} -c 'import time; time.sleep(60)' launched"]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(tmp_path, FakeClock())
    try:
        yield h
    finally:
        await h.cleanup()


def pid_file(harness: Harness) -> Path:
    return harness.base / "var" / "run" / "web" / "primary.pid"


async def launched(pid: int) -> None:
    """Wait until ``sh`` has exec'd the daemon."""
    await wait_until(lambda: (proc_cmdline(pid) or [""])[-1] == "launched")


# ---------------------------------------------------------------- /proc


def test_the_identity_of_this_process_is_its_pid_start_time_and_session() -> None:
    stat = proc_stat(os.getpid())
    assert stat is not None and stat.state in ("R", "S")
    assert (stat.pgid, stat.sid) == (os.getpgid(0), os.getsid(0))
    assert is_same_process(os.getpid(), stat.start_time)
    assert is_same_process(os.getpid(), stat.start_time, stat.sid)
    assert not is_same_process(os.getpid(), stat.start_time + 1)
    assert not is_same_process(os.getpid(), stat.start_time, stat.sid + 1)


async def test_a_stopped_group_member_is_found_and_a_token_finds_a_session_leader(
    harness: Harness,
) -> None:
    provider = harness.provider({"command": SLEEPER})
    await provider.start()
    pid = harness.track(provider.pid)
    record = ProcessRecord.load(pid_file(harness))
    assert record is not None and record.token and record.sid == pid
    assert find_by_environ(f"{INSTANCE_ENV}={record.token}") == pid
    assert find_by_environ(f"{INSTANCE_ENV}=not-a-token") is None
    assert stopped_in_group(pid) == []
    os.kill(pid, signal.SIGSTOP)
    await wait_until(lambda: stopped_in_group(pid) == [pid])
    os.kill(pid, signal.SIGCONT)


# ---------------------------------------------------------------- adoption


async def test_a_launcher_started_process_is_adopted_though_its_command_line_changed(
    harness: Harness,
) -> None:
    provider = harness.provider({"command": LAUNCHER})
    await provider.start()
    pid = harness.track(provider.pid)
    await launched(pid)
    await provider.close(stop_owned=False)
    # As an agent killed before it read the command line again left it: argv only.
    record = ProcessRecord.load(pid_file(harness))
    assert record is not None
    record.cmdline = list(LAUNCHER)
    record.save(pid_file(harness))

    later = harness.provider({"command": LAUNCHER})
    await later.start()

    assert (later.pid, later.start_count) == (pid, 1), "adopted, not started a second time"
    assert f"web: adopted pid {pid}, left running by a previous agent run" in log_of(harness.base)


async def test_the_pid_file_is_refreshed_at_once_after_the_launcher_execs(
    harness: Harness,
) -> None:
    provider = harness.provider({"command": LAUNCHER})
    await provider.start()
    pid = harness.track(provider.pid)
    await launched(pid)

    def refreshed() -> bool:
        record = ProcessRecord.load(pid_file(harness))
        return record is not None and record.cmdline[-1] == "launched"

    await wait_until(refreshed, within=3.0)  # without any check calling state()


async def test_an_agent_killed_between_the_fork_and_the_pid_file_leaves_a_process_found_by_its_token(
    harness: Harness,
) -> None:
    provider = harness.provider({"command": LAUNCHER})
    await provider.start()
    pid = harness.track(provider.pid)
    await provider.close(stop_owned=False)
    record = ProcessRecord.load(pid_file(harness))
    assert record is not None
    # What the pid file holds in that window: written before the fork, pid not yet known.
    record.pid, record.start_time, record.sid = 0, 0, None
    record.save(pid_file(harness))

    later = harness.provider({"command": LAUNCHER})
    await later.start()

    assert (later.pid, later.start_count) == (pid, 1)
    found = ProcessRecord.load(pid_file(harness))
    assert found is not None and found.pid == pid and found.is_running()
    assert f"web: adopted pid {pid}, found by its {INSTANCE_ENV} token" in log_of(harness.base)


async def test_a_record_without_a_session_from_an_older_agent_is_still_adopted(
    harness: Harness,
) -> None:
    provider = harness.provider({"command": SLEEPER})
    await provider.start()
    pid = harness.track(provider.pid)
    await provider.close(stop_owned=False)
    path = pid_file(harness)
    old = {k: v for k, v in ProcessRecord.load(path).__dict__.items()}  # type: ignore[union-attr]
    for key in ("sid", "reason", "token"):
        old.pop(key)
    ProcessRecord(**old).save(path)

    later = harness.provider({"command": SLEEPER})
    await later.start()
    assert (later.pid, later.start_count) == (pid, 1)


# ---------------------------------------------------------------- the step marker agrees


async def test_a_finished_step_of_a_launcher_is_not_repeated_by_the_next_agent_run(
    harness: Harness,
) -> None:
    provider = harness.provider({"command": LAUNCHER})
    await provider.start()
    harness.track(provider.pid)
    restart = step(strategy="restart_service")
    await provider.carry_out(restart, ctx(provider.catalog, "inc-1", 0))
    pid = harness.track(provider.pid)
    await launched(pid)
    harness.providers.remove(provider)
    await provider.close(stop_owned=False)
    record = ProcessRecord.load(pid_file(harness))
    assert record is not None
    record.cmdline = list(LAUNCHER)  # killed before the command line was read again
    record.save(pid_file(harness))

    later = harness.provider({"command": LAUNCHER})
    await later.start()
    again = await later.carry_out(restart, ctx(later.catalog, "inc-1", 0))

    assert (later.pid, later.start_count) == (pid, 2)
    assert again.detail["repeated"] is True
    assert "not started again" in again.output


async def test_a_step_whose_agent_died_before_it_began_takes_the_agent_start_as_its_start(
    harness: Harness,
) -> None:
    provider = harness.provider({"command": LAUNCHER}, clock=harness.clock)
    await provider.start()
    first = harness.track(provider.pid)
    harness.providers.remove(provider)
    await provider.close(stop_owned=False)
    os.kill(first, signal.SIGKILL)  # the failure; the agent dies before the step begins
    await wait_until(lambda: gone(first))
    failed_at = harness.clock.now()
    harness.clock.advance(timedelta(seconds=1))

    later = harness.provider({"command": LAUNCHER}, clock=harness.clock)
    await later.start()  # the next agent run starts it: the primary is gone
    pid = harness.track(later.pid)
    restart = step(strategy="restart_service")
    result = await later.carry_out(restart, ctx(later.catalog, "inc-2", 0, failed_at=failed_at))

    assert (later.pid, later.start_count) == (pid, 2), "not stopped and started again"
    assert result.output == (
        f"restart_service of web: pid {pid} was started at agent start after the failure; "
        "not restarted"
    )


async def test_a_process_started_at_agent_start_before_the_failure_is_restarted(
    harness: Harness,
) -> None:
    provider = harness.provider({"command": SLEEPER}, clock=harness.clock)
    await provider.start()
    old = harness.track(provider.pid)
    harness.clock.advance(timedelta(seconds=5))
    failed_at = harness.clock.now()  # it hung after it started

    restart = step(strategy="restart_service")
    await provider.carry_out(restart, ctx(provider.catalog, "inc-3", 0, failed_at=failed_at))

    assert provider.start_count == 2 and harness.track(provider.pid) != old
    assert gone(old)


# ---------------------------------------------------------------- a hung process stops at once


async def test_a_sigstopped_process_is_restarted_well_within_its_stop_grace(
    harness: Harness,
) -> None:
    provider = harness.provider({"command": SLEEPER, "stop_grace": "10s"})
    await provider.start()
    old = harness.track(provider.pid)
    os.kill(old, signal.SIGSTOP)
    await wait_until(lambda: (proc_stat(old) or proc_stat(os.getpid())).stopped)  # type: ignore[union-attr]

    began = time.monotonic()
    result = await provider.carry_out(step(strategy="restart_service"), ctx(provider.catalog))
    took = time.monotonic() - began

    harness.track(provider.pid)
    assert took < 5.0, f"restart took {took:.1f}s: SIGTERM waited for a stopped process"
    assert (
        f"pid {old} was stopped (state T); sent SIGCONT after SIGTERM; "
        "it exited with code -15 (SIGTERM)" in result.output
    )
    assert f"web: pid {old} was stopped (state T); sent SIGCONT after SIGTERM" in log_of(
        harness.base
    )
