"""The API's JSON shapes, as pydantic models (they make ``/openapi.json``).

Each model is the ``--json`` shape of the CLI made explicit: a ``Component`` is
what ``paramedic status --json`` prints for one component (``ComponentRow.to_json()``)
plus what only the API adds (open incident, owner agent, failure class); an
``Incident`` is what ``paramedic history --json`` prints. The rows' ``to_json()``
stay the one source of the values; these models validate and document them
(``tests/unit/test_api_models.py`` holds the two together).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from paramedic.checks.result import FailureClass


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Component(_Out):
    """One component: catalog facts, health, last check, objectives, pause, open incident."""

    name: str
    type: str
    location: str
    criticality: str
    provider: str
    rto_s: float
    rpo_s: float
    state: str
    state_since: str | None
    checks_total: int
    failures_total: int
    last_check_at: str | None
    last_ok: bool | None
    last_detail: str
    paused: bool
    paused_until: str | None
    pause_reason: str | None
    paused_by: str | None
    circuit_reset_at: str | None = Field(
        None, description="when an operator last closed its circuit"
    )
    host: str | None = Field(
        None, description="the host whose agent last took charge of it (host-bound providers)"
    )
    last_class: str | None = Field(None, description="failure class of the last check, if failed")
    open_incident: str | None = Field(None, description="id of the open incident, if any")
    owner_agent: str | None = Field(None, description="the agent watching it")


class ComponentPage(_Out):
    """``GET /api/v1/components``: one page; ``next`` is the ``after`` of the next page."""

    components: list[Component]
    next: str | None


class Transition(_Out):
    """One change of a component's health state."""

    id: int
    component: str
    at: str
    from_state: str
    to_state: str
    reason: str


class Step(_Out):
    """One strategy tried for one incident (a journal record)."""

    id: int
    incident_id: str
    seq: int
    strategy: str
    started_at: str
    ended_at: str | None
    status: str
    dry_run: bool
    detail: str
    output: str
    error: str
    duration_s: float | None


class Incident(_Out):
    """One incident with its three timestamps, measured RTO/RPO against targets, and steps."""

    id: str
    component: str
    kind: str
    state: str
    failure: str | None
    reason: str
    failed_at: str
    detected_at: str
    recovered_at: str | None
    escalated_at: str | None
    blocked_by: str | None
    strategy: str | None
    measured_rto_s: float | None
    measured_rpo_s: float | None
    recovery_point_at: str | None
    target_rto_s: float
    target_rpo_s: float
    open: bool
    time_to_detect_s: float
    rto_met: bool | None
    rpo_met: bool | None
    agent: str | None = Field(None, description="the agent running its recovery (several agents)")
    steps: list[Step] = Field(default_factory=list)


class Decision(_Out):
    """One decision line, as the agent logs it and ``/api/v1/events`` streams it."""

    model_config = ConfigDict(extra="allow")
    at: str | None = None
    component: str
    decision: str
    reason: str = ""


class Approval(_Out):
    """A destructive strategy waiting for (or answered by) an operator."""

    id: int
    incident_id: str
    seq: int
    strategy: str
    requested_at: str
    summary: str
    state: str
    decided_at: str | None
    decided_by: str | None


class IncidentDetail(Incident):
    """``GET /api/v1/incidents/{id}``: the incident, its approval and its decision lines."""

    approval: Approval | None = None
    decisions: list[Transition] = Field(
        default_factory=list, description="the component's state changes during the incident"
    )


class IncidentList(_Out):
    """``GET /api/v1/incidents`` (the shape of ``paramedic history --json``)."""

    incidents: list[Incident]


class RecoveryPoint(_Out):
    """A backup, snapshot or archived log position that data can be restored to."""

    id: int
    component: str
    engine: str
    taken_at: str
    location: str
    size_bytes: int | None
    checksum: str | None
    detail: dict[str, Any]
    verified_at: str | None
    verified_ok: bool | None
    verify_detail: str


class RpoExposure(_Out):
    """Age of the newest restorable point against the RPO."""

    age_s: float | None
    rpo_s: float
    at_risk: bool
    breached: bool
    reason: str


class ComponentDetail(Component):
    """``GET /api/v1/components/{name}``: the component with its recent history."""

    transitions: list[Transition]
    incidents: list[Incident]
    recovery_points: list[RecoveryPoint]
    rpo_exposure: RpoExposure | None


class Accepted(_Out):
    """A write the agent took on: 202, with the incident it opened when it opened one."""

    accepted: bool = True
    component: str | None = None
    incident_id: str | None = None
    message: str


class DryRunStep(_Out):
    """One step ``recover --dry-run`` would take."""

    seq: int
    strategy: str
    does: str
    timeout_s: float
    approval: bool


class DryRun(_Out):
    """``recover`` with ``dry_run: true``: what would be done, nothing done."""

    component: str
    dry_run: bool = True
    steps: list[DryRunStep]


class Error(_Out):
    """Every 4xx/5xx body: one line saying what is wrong and how to fix it."""

    error: str


class Health(_Out):
    """``/healthz`` and ``/readyz``."""

    ok: bool
    reason: str


class RecoverBody(_Out):
    """``POST …/recover``."""

    strategy: str | None = None
    dry_run: bool = False


class PauseBody(_Out):
    """``POST …/pause``: how long (``2h``; null: until resumed) and why."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    for_: str | None = Field(None, alias="for", max_length=32)
    reason: str = Field("maintenance", max_length=2000)


class DrillBody(_Out):
    """``POST …/drill``."""

    fault: str = Field(min_length=1, max_length=64)
    yes: bool = Field(False, description="drill even without drills.allowed or outside the window")


def failure_class(row_json: dict[str, Any]) -> str | None:
    """The failure class at the head of a failed check's detail (``refused: …``)."""
    if row_json.get("last_ok") is not False:
        return None
    head = str(row_json.get("last_detail", "")).split(":", 1)[0]
    return head if head in FailureClass.__members__ else None
