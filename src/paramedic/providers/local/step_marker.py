"""How far the action of one ``(incident, step)`` got, kept in the run dir.

The recovery workflow may call a step again after the agent crashed mid-step (see
``providers.base``). The marker lets that call finish the same action instead of repeating
it: once ``done``, the recorded result is returned again while the processes the step
started still live.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paramedic.providers.base import ActionContext, ActionResult
from paramedic.providers.local.supervise import (
    OwnedProcess,
    is_same_process,
    read_json,
    write_json,
)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def safe_name(text: str) -> str:
    """``text`` usable in a file name (an incident id from elsewhere may hold anything)."""
    return _UNSAFE.sub("_", text)


def identity(proc: OwnedProcess | None) -> dict[str, int] | None:
    """What tells this process from any other later: pid, start time and session.

    The same identity adoption uses (``ProcessRecord.is_running``), so a step marker and the
    agent's adoption never disagree about which process is the one a step started.
    """
    return None if proc is None else proc.record.identity()


def still_running(recorded: Any) -> bool:
    """True when the process an ``identity`` recorded is alive."""
    if not isinstance(recorded, dict):
        return False
    sid = recorded.get("sid")
    return is_same_process(recorded["pid"], recorded["start_time"], sid)


def same_process(recorded: Any, proc: OwnedProcess | None) -> bool:
    """True when ``recorded`` (an ``identity``) names ``proc``, alive."""
    if proc is None or not proc.alive or not isinstance(recorded, dict):
        return False
    return bool(recorded.get("pid") == proc.pid and still_running(recorded))


@dataclass
class StepMarker:
    """The progress of one step: ``begun`` → (``reset``) → ``spawning`` → ``done``."""

    path: Path
    data: dict[str, Any]

    @classmethod
    def of(cls, run_dir: Path, ctx: ActionContext) -> StepMarker:
        """The marker of ``ctx``'s incident and step, as far as it got (empty when new)."""
        path = run_dir / "steps" / f"{safe_name(ctx.incident_id)}.{ctx.step_index}.json"
        return cls(path, read_json(path))

    @property
    def phase(self) -> str | None:
        """How far the action got; None before its first call."""
        phase = self.data.get("phase")
        return phase if isinstance(phase, str) else None

    def advance(self, phase: str, **fields: Any) -> None:
        """Record that the action reached ``phase`` (with ``fields``)."""
        self.data.update(fields, phase=phase)
        write_json(self.path, self.data)

    def finish(self, result: ActionResult, started: list[dict[str, int]]) -> ActionResult:
        """Record ``result`` and the processes the step started; returns ``result``."""
        self.advance("done", output=result.output, detail=result.detail, pids=started)
        return result

    def finished(
        self, ctx: ActionContext, ours: Callable[[Any], bool] = still_running
    ) -> ActionResult | None:
        """The recorded result when the step is done and what it started still runs.

        ``ours`` says whether a recorded process still runs as one the provider holds: a
        process alive but not in the provider's charge is not a finished step.
        """
        if self.phase != "done":
            return None
        started = self.data.get("pids") or []
        if not all(ours(recorded) for recorded in started):
            return None
        running = ", ".join(f"pid {recorded['pid']}" for recorded in started)
        note = f"already done for incident {ctx.incident_id} step {ctx.step_index}"
        note += f"; {running} still running, not started again" if running else "; not repeated"
        detail = dict(self.data.get("detail") or {}, repeated=True)
        return ActionResult(output=f"{self.data.get('output', '')} ({note})", detail=detail)
