"""Commands run to completion for a component: ``run`` steps and restart/start/stop commands.

Each runs in its own session with its output captured, so a cancellation (the workflow's step
timeout) kills it and whatever it started, and waits for them: no orphan is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from paramedic.errors import ProviderError
from paramedic.providers.local import helpers
from paramedic.redact import redact

OUTPUT_LINES = 40
"""Lines of a command's output kept in the journal."""
ERROR_LINES = 3
"""Last lines of output quoted in the one-line error of a failed command."""


def shown(argv: Iterable[str]) -> str:
    """``argv`` as a shell would read it, secrets redacted: for messages and logs."""
    return redact(shlex.join(argv))


def last_lines(output: str, count: int) -> list[str]:
    """The last ``count`` non-blank lines of ``output``."""
    return [line for line in output.strip().splitlines() if line.strip()][-count:]


async def run_command(
    argv: list[str], *, cwd: Path | None, env: Mapping[str, str]
) -> tuple[int, str]:
    """Run ``argv`` to its end: (exit code, stdout and stderr together); OSError if not started."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        with helpers.tracked(proc.pid):
            out, _ = await proc.communicate()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        await proc.wait()
        raise
    code = proc.returncode
    return (0 if code is None else code), out.decode(errors="replace")


def check_work_dir(component: str, cwd: Path) -> None:
    """ProviderError naming the fix when ``cwd`` is not a folder."""
    if not cwd.is_dir():
        raise ProviderError(
            f"component {component!r}: working directory {cwd} does not exist; "
            "create it or fix spec.cwd"
        )


@dataclass(frozen=True)
class ComponentCommand:
    """One command of a component, with what a user needs to find it in the catalog."""

    component: str
    argv: list[str]
    field: str
    """Where it is written, e.g. ``spec.restart_command`` or ``recovery[2].command``."""
    label: str
    """How an error names it, e.g. ``spec.restart_command`` or ``run``."""

    async def run(self, *, cwd: Path, env: Mapping[str, str]) -> str:
        """Run it; its redacted output tail, or ProviderError (exit code and last lines)."""
        check_work_dir(self.component, cwd)
        try:
            code, output = await run_command(self.argv, cwd=cwd, env=env)
        except FileNotFoundError as exc:
            raise ProviderError(
                f"component {self.component!r}: {self.field}: program {self.argv[0]!r} not "
                "found; give a program on PATH or an absolute path"
            ) from exc
        except OSError as exc:
            raise ProviderError(
                f"component {self.component!r}: {self.field}: cannot run {self.argv[0]!r}: "
                f"{exc.strerror}; check the command and its permissions"
            ) from exc
        if code != 0:
            tail = " | ".join(last_lines(output, ERROR_LINES)) or "no output"
            raise ProviderError(
                f"component {self.component!r}: {self.label} `{shown(self.argv)}` exited with "
                f"code {code}: {redact(tail)}"
            )
        return redact("\n".join(last_lines(output, OUTPUT_LINES)))
