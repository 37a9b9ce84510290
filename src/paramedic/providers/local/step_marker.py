"""How far the action of one ``(incident, step)`` got, kept in the run dir.

The recovery workflow may call a step again after the agent crashed mid-step (see
``providers.base``). The marker lets that call finish the same action instead of repeating
it: once ``done``, the recorded result is returned again while the processes the step
started still live.
"""

from __future__ import annotations

import re
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
    """What tells this process from any other later: pid and start time."""
    return None if proc is None else {"pid": proc.pid, "start_time": proc.record.start_time}


def still_running(recorded: Any) -> bool:
    """True when the process an ``identity`` recorded is alive."""
    return isinstance(recorded, dict) and is_same_process(recorded["pid"], recorded["start_time"])


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

    def finished(self, ctx: ActionContext) -> ActionResult | None:
        """The recorded result when the step is done and what it started still runs."""
        if self.phase != "done":
            return None
        started = self.data.get("pids") or []
        if not all(still_running(recorded) for recorded in started):
            return None
        running = ", ".join(f"pid {recorded['pid']}" for recorded in started)
        note = f"already done for incident {ctx.incident_id} step {ctx.step_index}"
        note += f"; {running} still running, not started again" if running else "; not repeated"
        detail = dict(self.data.get("detail") or {}, repeated=True)
        return ActionResult(output=f"{self.data.get('output', '')} ({note})", detail=detail)
