"""Helper processes are tracked while they run, and killed with their children on demand
(what an agent standing down does), while owned services are left alone."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from paramedic.providers.local import helpers
from paramedic.providers.local.commands import run_command

pytestmark = pytest.mark.integration


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


async def test_a_finished_command_is_no_longer_tracked() -> None:
    code, output = await run_command(["sh", "-c", "echo hi"], cwd=None, env=os.environ)
    assert (code, output.strip(), helpers.running()) == (0, "hi", 0)


async def test_kill_all_ends_a_running_command_and_its_children(tmp_path: Path) -> None:
    script = f"sleep 60 & echo $! > {tmp_path}/child; wait"
    task = asyncio.create_task(run_command(["sh", "-c", script], cwd=None, env=os.environ))
    deadline = time.monotonic() + 10
    while not (tmp_path / "child").exists() or helpers.running() == 0:
        assert time.monotonic() < deadline, "the command never started"
        await asyncio.sleep(0.02)
    child = int((tmp_path / "child").read_text())
    assert _alive(child)

    assert helpers.kill_all() == 1
    code, _ = await asyncio.wait_for(task, 5)
    assert code == -9 and helpers.running() == 0
    deadline = time.monotonic() + 5
    while _alive(child):
        assert time.monotonic() < deadline, f"child {child} outlived its helper's group"
        await asyncio.sleep(0.02)


async def test_kill_all_with_nothing_running_kills_nothing() -> None:
    assert helpers.kill_all() == 0
