"""The agent's event loop: uvloop when it is installed (a Linux dependency), asyncio's otherwise.

uvloop runs the same asyncio code with its transports and callbacks in C (libuv), which
is most of what an agent doing thousands of checks a second spends outside its own code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on a uvloop loop when uvloop can be imported."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
