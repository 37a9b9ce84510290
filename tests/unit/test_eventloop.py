"""The agent's loop runner: uvloop when installed, asyncio's loop when not."""

from __future__ import annotations

import asyncio
import sys

import pytest

from paramedic import eventloop


async def _loop_module() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


@pytest.mark.skipif(sys.platform != "linux", reason="uvloop is a Linux dependency")
def test_the_agent_loop_is_uvloop_when_installed() -> None:
    assert eventloop.run(_loop_module()).startswith("uvloop")


def test_without_uvloop_it_is_asyncio_own_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # makes ``import uvloop`` fail
    assert eventloop.run(_loop_module()).startswith("asyncio")
