"""The agent's loop runner: asyncio's own loop by default, uvloop only when asked for."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from paramedic import eventloop


async def _loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


def test_the_default_loop_is_asyncio_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(eventloop.ENV_VAR, raising=False)
    assert eventloop.run(_loop_module()).startswith("asyncio")


@pytest.mark.skipif(sys.platform != "linux", reason="uvloop is a Linux dependency")
def test_uvloop_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.ENV_VAR, "uvloop")
    assert eventloop.run(_loop_module()).startswith("uvloop")


def test_asked_for_but_not_installed_it_is_asyncio_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.ENV_VAR, "uvloop")
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes ``import uvloop`` fail
    assert eventloop.run(_loop_module()).startswith("asyncio")


async def _daemonizing_command() -> float:
    """How long a command that starts a background child and exits is seen to run."""
    started = time.monotonic()
    child = await asyncio.create_subprocess_exec(
        "sh", "-c", "sleep 3 </dev/null >/dev/null 2>&1 & echo started",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    await asyncio.wait_for(child.communicate(), 10)
    return time.monotonic() - started


def test_the_default_loop_sees_a_daemonizing_command_end_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Why uvloop is not the default: ``pg_ctl start`` must not wait for the server it started."""
    monkeypatch.delenv(eventloop.ENV_VAR, raising=False)
    assert eventloop.run(_daemonizing_command()) < 2.0
