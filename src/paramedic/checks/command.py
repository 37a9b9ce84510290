"""The ``command`` check: a command whose exit code must be ``expect_exit``.

The command runs in its own session (so its own process group): on a timeout,
or when the check is cancelled, the whole group is killed, grandchildren included.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from paramedic.catalog.model import CommandCheck
from paramedic.checks.probe import ProbeContext, Verdict, failed, passed
from paramedic.checks.result import FailureClass
from paramedic.redact import redact

OUTPUT_LIMIT = 2000
"""Characters of output kept: the end, where the reason usually is."""
_BYTES_KEPT = OUTPUT_LIMIT * 4  # enough bytes for 2,000 characters of UTF-8


def command_argv(check: CommandCheck) -> list[str]:
    """The argv to run: ``command`` as is, or ``/bin/sh -c command[0] …`` when ``shell`` is set."""
    if check.shell:
        return ["/bin/sh", "-c", *check.command]
    return list(check.command)


async def probe_command(check: CommandCheck, ctx: ProbeContext) -> Verdict:
    """Run the command; its exit code must be ``expect_exit``. Output is stdout+stderr, the tail."""
    argv = command_argv(check)
    env = {**os.environ, **check.env} if check.env else None
    try:
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=check.cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except FileNotFoundError as exc:
        if check.cwd is not None and exc.filename == check.cwd:
            return failed(FailureClass.error, f"working directory not found: {check.cwd}")
        return failed(FailureClass.error, f"command not found: {argv[0]}")
    except PermissionError:
        return failed(FailureClass.error, f"cannot run {argv[0]}: permission denied")
    except OSError as exc:
        return failed(FailureClass.error, f"cannot run {argv[0]}: {exc.strerror or exc}")
    try:
        tail = await _read_tail(process)
        code = await process.wait()
    finally:
        # Reached with the process still running only when cancelled (the hard timeout).
        if process.returncode is None:
            _kill_group(process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.shield(process.wait())
    output = redact(tail)
    if code != check.expect_exit:
        last = _last_line(output)
        detail = f"exit code {code} (expected {check.expect_exit})"
        return failed(FailureClass.bad_response, f"{detail}: {last}" if last else detail, output)
    return passed(f"exit code {code}", output)


async def _read_tail(process: asyncio.subprocess.Process) -> str:
    """Read the output to its end, keeping only the last ``OUTPUT_LIMIT`` characters."""
    assert process.stdout is not None
    kept = bytearray()
    while chunk := await process.stdout.read(65536):
        kept += chunk
        if len(kept) > _BYTES_KEPT:
            del kept[: len(kept) - _BYTES_KEPT]
    return kept.decode("utf-8", errors="replace")[-OUTPUT_LIMIT:]


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _last_line(output: str) -> str:
    for line in reversed(output.splitlines()):
        if line.strip():
            return line.strip()
    return ""
