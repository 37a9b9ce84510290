"""The pid of each process the agent owns, read from the process provider's run-dir record.

``paramedic status`` runs in another process than the agent, so it reads what the agent wrote
(``RUN_DIR/COMPONENT/primary.pid``), never a provider's memory, and reports a pid only while
that very process is alive (same pid and start time: a reused pid is not reported).
"""

from __future__ import annotations

from typing import Any

from paramedic.providers.local.supervise import is_same_process, read_json

RECORD = "primary.pid"
"""The process provider's record of a component's primary process, in its run-dir folder."""


def owned_pid(catalog: Any, name: str) -> int | None:
    """The live pid of the process the agent owns for component ``name``; None when none runs."""
    component = catalog.components.get(name)
    if component is None or component.provider != "process":
        return None
    path = catalog.resolve_path(catalog.agent.run_dir) / name / RECORD
    data = read_json(path) if path.is_file() else {}
    pid, start_time = data.get("pid"), data.get("start_time")
    if not isinstance(pid, int) or not isinstance(start_time, int):
        return None
    return pid if is_same_process(pid, start_time) else None


def owned_pids(catalog: Any) -> dict[str, int | None]:
    """``owned_pid`` of every component of the catalog."""
    return {name: owned_pid(catalog, name) for name in catalog.components}
