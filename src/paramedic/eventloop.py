"""The agent's event loop: asyncio's own, or uvloop when asked for (``PARAMEDIC_EVENT_LOOP=uvloop``).

uvloop runs the same asyncio code with its transports and callbacks in C (libuv), which
is most of what an agent doing thousands of checks a second spends outside its own code.
It is not the default: its subprocesses leave a descriptor of their pipes open in the
children they spawn, so a command that starts a daemon and exits (``pg_ctl start``) is
not seen to end until that daemon does, and a PostgreSQL restore waits out its timeout.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

ENV_VAR = "PARAMEDIC_EVENT_LOOP"


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``; on a uvloop loop when ``PARAMEDIC_EVENT_LOOP=uvloop`` and it imports."""
    if os.environ.get(ENV_VAR, "").strip().lower() != "uvloop":
        return asyncio.run(main)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
