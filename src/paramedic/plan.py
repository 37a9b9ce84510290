"""``paramedic plan``: the inventory of single-location components and the gaps in their recovery.

``analyze(catalog)`` reads a catalog and returns a typed ``Plan``; it prints
nothing (``paramedic.views.plan`` renders it, ``Plan.to_json`` feeds
``--json``). Gaps are findings, not errors: a catalog with gaps is valid.

Severity says how sure the miss is:

- high: the objective cannot be met as written (the figures do not add up,
  nothing recovers, a strategy cannot be carried out).
- medium: it will probably be missed in practice (a human in the loop of a
  fast RTO, a dependency treated with less care than what needs it).
- low: worth knowing (a provider not built yet, a backup never test-restored).

Gap kinds (``Gap.kind``, stable identifiers):

``rto_unreachable`` (high)
    Worst-case detection (``interval * failures + timeout``) plus the sum of
    every strategy's timeout exceeds the RTO: when the early strategies fail
    the ladder overruns. There is deliberately no separate "first strategy"
    kind: whenever detection plus the first timeout exceeds the RTO, the sum
    does too, so a second gap would repeat the first. The reason then adds
    "even detection + the first strategy ... exceeds it" and the figures carry
    ``first_strategy_s``. Verification is counted inside each step's timeout,
    except that after a restart or replacement it waits out ``health.start_period``
    (plus ``successes`` spaced checks) even past it: those waits are added
    (``start_periods_s``).
``rpo_no_backup`` (high)
    An RPO above zero and no backup (not for a provider whose service keeps
    recovery points by itself, such as RDS automated backups:
    ``ProviderInfo.native_backups``).
``rpo_schedule`` (high)
    The backup cannot bound the RPO: the longest interval between scheduled
    runs exceeds it, or, for WAL engines (pg_basebackup, pgbackrest), the WAL
    archive timeout does (the schedule does not bound their RPO). ``subject``
    names the bound used: ``schedule`` or ``archive_timeout``.
``rpo_below_restorable_lag`` (high)
    An ``aws.rds`` component whose RPO is under ``RDS_RESTORABLE_LAG`` (5 minutes):
    RDS restores a point in time only up to LatestRestorableTime, which lags the
    present by about 5 minutes, so a restore loses more than the RPO allows.
``no_recovery`` (high)
    No recovery strategy: a failure is detected and notified, never recovered.
``strategy_unsupported`` (high)
    A strategy the component's provider cannot carry out.
``unknown_provider`` (high)
    The provider is not known (the loader reports it too; ``analyze`` on an
    unchecked catalog says so instead of failing).
``criticality_inversion`` (high or medium)
    A component depends directly on a less critical one (critical on important
    or standard, and important on standard too: the dependency is then given
    less care in alerts, budgets and drills than what it takes down). High when
    the dependency's RTO is also longer than the dependent's, since the
    dependent's RTO then cannot hold when the dependency fails; medium otherwise.
``approval_on_fast_rto`` (medium)
    A strategy that waits for approval on a component whose RTO is under
    ``APPROVAL_RTO_LIMIT`` (15 minutes): nobody will answer in time.
``step_timeout_short`` (high)
    A step whose timeout is shorter than what the step must wait for: the
    provider's stop grace when the step stops the component first
    (``restart_service``, ``replace_instance`` of a process or server
    paramedic owns: a hung one is killed only after ``stop_grace``), plus the
    check's start period when the catalog has one, plus ``successes``
    verification checks at the engine's spacing (a quarter of the interval,
    within 100ms–1s). Such a step times out before it can fix a hang.
``provider_not_built`` (low)
    The provider's implementation is not built yet in this version.
``no_verify`` (low)
    A backup with ``verify: never``: a backup never restored is a hope.

Gaps are sorted by severity (high first), then component, then kind.

Notes (``Note.kind``) are not gaps: they say how the agents will treat a
component. ``pinned_to_host``: with a ``postgresql://`` state (several agents
may share the catalog) an owned process (``provider: process`` with
``command:``) is driven only by an agent on the host that runs it
(``paramedic.agent.ownership``), pinned by ``agent_tags: [host:NAME]`` or else
by rendezvous over the live hosts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from paramedic.catalog.duration import format_duration
from paramedic.catalog.model import Backup, Catalog, Component, Strategy
from paramedic.errors import NotFound
from paramedic.graph import DependencyGraph
from paramedic.providers.base import ProviderInfo
from paramedic.providers.registry import provider_info
from paramedic.recovery import actions
from paramedic.recovery.ladder import start_wait, verification_spacing

APPROVAL_RTO_LIMIT = timedelta(minutes=15)
"""Below this RTO, a strategy that waits for an operator's approval is a gap."""

RDS_RESTORABLE_LAG = timedelta(minutes=5)
"""How far an RDS instance's LatestRestorableTime typically lags the present."""


class Severity(StrEnum):
    """How sure the miss of an objective is: high, medium or low."""

    high = "high"
    medium = "medium"
    low = "low"

    @property
    def rank(self) -> int:
        """0 for high, 1 for medium, 2 for low (sort order)."""
        return {"high": 0, "medium": 1, "low": 2}[self.value]


def _seconds(value: timedelta) -> float:
    return value.total_seconds()


@dataclass(frozen=True)
class StrategyPlan:
    """One rung of a component's recovery ladder."""

    strategy: str
    timeout: timedelta
    approval: bool
    by_function: bool = False
    """A ``run`` step invoking a Lambda function: any provider can have it."""

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of this rung."""
        return {
            "strategy": self.strategy,
            "timeout": format_duration(self.timeout),
            "timeout_s": _seconds(self.timeout),
            "approval": "required" if self.approval else "none",
        }


@dataclass(frozen=True)
class BackupPlan:
    """A component's backup and the bound it puts on the data lost."""

    engine: str
    schedule: str
    verify: str
    bound: str
    """``schedule`` (longest interval between runs) or ``archive_timeout`` (WAL engines)."""
    bound_value: timedelta

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of this backup."""
        return {
            "engine": self.engine,
            "schedule": self.schedule,
            "verify": self.verify,
            "rpo_bound": self.bound,
            "rpo_bound_s": _seconds(self.bound_value),
        }


@dataclass(frozen=True)
class ComponentPlan:
    """One row of the inventory: a component, its objectives, blast radius and recovery ladder."""

    name: str
    type: str
    location: str
    constraint: str
    criticality: str
    rto: timedelta
    rpo: timedelta
    provider: str
    check: str
    detect: timedelta
    """Worst-case time to detect a failure: ``interval * failures + timeout``."""
    dependencies: list[str]
    dependents: list[str]
    """Every component that depends on this one, directly or not (its blast radius)."""
    strategies: list[StrategyPlan]
    backup: BackupPlan | None
    start_waits: timedelta = timedelta(0)
    """What verification may wait past the steps' timeouts for the component to finish
    starting (``health.start_period`` after each restart or replacement)."""

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of this row."""
        return {
            "name": self.name,
            "type": self.type,
            "location": self.location,
            "constraint": self.constraint,
            "criticality": self.criticality,
            "rto": format_duration(self.rto),
            "rto_s": _seconds(self.rto),
            "rpo": format_duration(self.rpo),
            "rpo_s": _seconds(self.rpo),
            "provider": self.provider,
            "check": self.check,
            "detect": format_duration(self.detect),
            "detect_s": _seconds(self.detect),
            "dependencies": list(self.dependencies),
            "dependents": list(self.dependents),
            "strategies": [s.to_json() for s in self.strategies],
            "backup": self.backup.to_json() if self.backup else None,
        }


@dataclass(frozen=True)
class Gap:
    """One finding: a way the catalog, as written, is likely to miss a component's objectives."""

    component: str
    kind: str
    severity: Severity
    reason: str
    """One line with the figures, for people."""
    figures: dict[str, float] = field(default_factory=dict)
    """The same figures as numbers (durations in seconds, keys ending in ``_s``)."""
    subject: str | None = None
    """What the gap is about, if not the whole component: strategy, dependency, provider, bound."""

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of this gap."""
        return {
            "component": self.component,
            "kind": self.kind,
            "severity": self.severity.value,
            "reason": self.reason,
            "figures": dict(self.figures),
            "subject": self.subject,
        }


@dataclass(frozen=True)
class Note:
    """Worth knowing, not a gap: how the agents will treat a component."""

    component: str
    kind: str
    text: str

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of this note."""
        return {"component": self.component, "kind": self.kind, "note": self.text}


@dataclass(frozen=True)
class Plan:
    """The result of ``analyze``: the inventory in catalog order, the gaps, most severe first,
    and the notes in catalog order."""

    inventory: list[ComponentPlan]
    gaps: list[Gap]
    notes: list[Note] = field(default_factory=list)

    def count(self, severity: Severity) -> int:
        """How many gaps have ``severity``."""
        return sum(1 for gap in self.gaps if gap.severity is severity)

    def summary(self) -> str:
        """One line: ``4 components, 6 gaps (2 high)``."""
        n, g = len(self.inventory), len(self.gaps)
        components = f"{n} component{'' if n == 1 else 's'}"
        return f"{components}, {g} gap{'' if g == 1 else 's'} ({self.count(Severity.high)} high)"

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of the whole plan (``paramedic plan --json``)."""
        return {
            "inventory": [row.to_json() for row in self.inventory],
            "gaps": [gap.to_json() for gap in self.gaps],
            "notes": [note.to_json() for note in self.notes],
            "summary": {
                "components": len(self.inventory),
                "gaps": len(self.gaps),
                **{s.value: self.count(s) for s in Severity},
            },
        }


def analyze(catalog: Catalog) -> Plan:
    """The inventory of ``catalog``'s components and every gap found in their recovery."""
    graph = DependencyGraph({name: c.depends_on for name, c in catalog.components.items()})
    inventory = [
        _row(catalog, graph, name, component) for name, component in catalog.components.items()
    ]
    gaps: list[Gap] = []
    for row in inventory:
        component = catalog.components[row.name]
        gaps.extend(_rto_gaps(row))
        gaps.extend(_step_timeout_gaps(row, component))
        gaps.extend(_rpo_gaps(row, component.backup))
        gaps.extend(_restorable_lag_gaps(row))
        gaps.extend(_approval_gaps(row))
        gaps.extend(_provider_gaps(row))
        gaps.extend(_criticality_gaps(catalog, row))
    gaps.sort(key=lambda g: (g.severity.rank, g.component, g.kind))  # stable: steps stay in order
    return Plan(inventory=inventory, gaps=gaps, notes=_placement_notes(catalog))


def _placement_notes(catalog: Catalog) -> list[Note]:
    """``pinned_to_host`` for every component bound to one host (a local provider: an owned
    process, PostgreSQL, Redis, HAProxy, a file tree), when several agents may share the catalog."""
    if not catalog.state.lower().startswith("postgres"):
        return []  # SQLite: one agent, so there is nothing to divide
    # Imported here: the agent package is heavy, and only a shared catalog needs it.
    from paramedic.agent.ownership import HOST_TAG, placement_of

    notes = []
    for name, component in catalog.components.items():
        placement = placement_of(component)
        if not placement.host_bound:
            continue
        hosts = sorted(t.removeprefix(HOST_TAG) for t in placement.tags if t.startswith(HOST_TAG))
        if hosts:
            text = (
                f"bound to one host, pinned to {', '.join(hosts)} by agent_tags: "
                "only an agent on that host checks and recovers it"
            )
        else:
            text = (
                "bound to one host: only an agent on the host that runs it checks and recovers "
                "it (the host recorded when an agent took charge of it; another host takes it "
                "only when no agent of that host is alive); pin it with agent_tags: [host:NAME] "
                "when agents run on several hosts"
            )
        notes.append(Note(name, "pinned_to_host", text))
    return notes


def _row(
    catalog: Catalog, graph: DependencyGraph, name: str, component: Component
) -> ComponentPlan:
    return ComponentPlan(
        name=name,
        type=component.type.value,
        location=catalog.location_of(name),
        constraint=component.constraint,
        criticality=component.criticality.value,
        rto=component.rto,
        rpo=component.rpo,
        provider=component.provider,
        check=component.health.check,
        detect=component.health.worst_case_detect,
        dependencies=list(component.depends_on),
        dependents=graph.dependents(name),
        strategies=[_strategy(step) for step in component.recovery],
        backup=_backup(component.backup),
        start_waits=sum(
            (start_wait(component.health, step.strategy) for step in component.recovery),
            timedelta(0),
        ),
    )


def _strategy(step: Strategy) -> StrategyPlan:
    return StrategyPlan(
        strategy=step.strategy,
        timeout=step.timeout,
        approval=step.needs_approval,
        by_function=actions.by_function(step),
    )


def _backup(backup: Backup | None) -> BackupPlan | None:
    if backup is None:
        return None
    if backup.archives_continuously:
        bound, value = "archive_timeout", backup.effective_archive_timeout
    else:
        bound, value = "schedule", backup.longest_gap()
    return BackupPlan(
        engine=backup.engine.value,
        schedule=backup.schedule,
        verify=backup.verify,
        bound=bound,
        bound_value=value,
    )


def _fmt(value: timedelta) -> str:
    return format_duration(value)


def _rto_gaps(row: ComponentPlan) -> list[Gap]:
    gaps: list[Gap] = []
    if not row.strategies:
        gaps.append(
            Gap(
                row.name,
                "no_recovery",
                Severity.high,
                "no recovery strategy: a failure is detected and notified, never recovered",
            )
        )
    ladder = sum((s.timeout for s in row.strategies), timedelta(0))
    total = row.detect + ladder + row.start_waits
    if total <= row.rto:
        return gaps
    figures = {
        "detect_s": _seconds(row.detect),
        "strategies_s": _seconds(ladder),
        "total_s": _seconds(total),
        "rto_s": _seconds(row.rto),
    }
    starting = ""
    if row.start_waits:
        figures["start_periods_s"] = _seconds(row.start_waits)
        starting = f" + {_fmt(row.start_waits)} waiting out start periods"
    reason = (
        f"worst case {_fmt(row.detect)} to detect + {_fmt(ladder)} of strategy timeouts"
        f"{starting} = {_fmt(total)} exceeds the RTO of {_fmt(row.rto)}"
    )
    if row.strategies:
        first = row.strategies[0]
        figures["first_strategy_s"] = _seconds(first.timeout)
        if row.detect + first.timeout > row.rto:
            reason += (
                f"; even detection + the first strategy ({first.strategy}, {_fmt(first.timeout)})"
                f" = {_fmt(row.detect + first.timeout)} exceeds it"
            )
    gaps.append(Gap(row.name, "rto_unreachable", Severity.high, reason, figures))
    return gaps


STOPS_FIRST = frozenset({"restart_service", "replace_instance"})
"""Strategies that stop the running component before starting it again."""


def stop_grace(component: Component) -> timedelta | None:
    """How long stopping the component may wait before SIGKILL (``spec.stop_grace``); None: no wait known.

    Only for a provider whose spec has a ``stop_grace``, and (process provider) only when
    paramedic owns the process: one driven by ``restart_command`` is stopped by that command.
    """
    try:
        spec = provider_info(component.provider).spec_model.model_validate(component.spec)
    except (NotFound, ValueError):  # analyze() on an unchecked catalog: the loader reports it
        return None
    grace = getattr(spec, "stop_grace", None)
    if not isinstance(grace, timedelta):
        return None
    if hasattr(spec, "command") and getattr(spec, "command", None) is None:
        return None
    return grace


def start_period(component: Component) -> timedelta:
    """The check's start period: checks fail freely that long after a start."""
    return component.health.start_period


def _step_timeout_gaps(row: ComponentPlan, component: Component) -> list[Gap]:
    health = component.health
    spacing = timedelta(seconds=verification_spacing(health.interval))
    verify = spacing * health.successes
    period = start_period(component)
    grace = stop_grace(component)
    gaps: list[Gap] = []
    for index, step in enumerate(row.strategies, start=1):
        stops = grace is not None and step.strategy in STOPS_FIRST and not step.by_function
        held = grace if stops and grace is not None else timedelta(0)
        need = held + period + verify
        if step.timeout >= need:
            continue
        parts = [f"{_fmt(held)} stop grace"] if stops else []
        if period:
            parts.append(f"{_fmt(period)} start period")
        checks = "check" if health.successes == 1 else "checks"
        parts.append(
            f"{health.successes} verification {checks} {_fmt(spacing)} apart ({_fmt(verify)})"
        )
        reason = (
            f"step {index}, {step.strategy}: its timeout of {_fmt(step.timeout)} is shorter than"
            f" what it must wait for: {' + '.join(parts)} = {_fmt(need)}"
        )
        if stops:
            reason += (
                "; a hung process is killed only after the grace, so this step cannot fix a hang"
            )
        figures = {
            "step": index,
            "timeout_s": _seconds(step.timeout),
            "stop_grace_s": _seconds(held),
            "start_period_s": _seconds(period),
            "verify_s": _seconds(verify),
            "need_s": _seconds(need),
        }
        gaps.append(
            Gap(row.name, "step_timeout_short", Severity.high, reason, figures, step.strategy)
        )
    return gaps


def _rpo_gaps(row: ComponentPlan, backup: Backup | None) -> list[Gap]:
    if row.backup is None or backup is None:
        if row.rpo > timedelta(0) and _native_backups(row.provider) is None:
            reason = f"RPO of {_fmt(row.rpo)} but no backup: no recovery point bounds the data lost"
            return [
                Gap(row.name, "rpo_no_backup", Severity.high, reason, {"rpo_s": _seconds(row.rpo)})
            ]
        return []
    gaps: list[Gap] = []
    plan = row.backup
    if plan.bound_value > row.rpo:
        if plan.bound == "archive_timeout":
            default = "" if backup.archive_timeout is not None else " (PostgreSQL's default)"
            reason = (
                f"WAL archive timeout of {_fmt(plan.bound_value)}{default} exceeds the RPO of"
                f" {_fmt(row.rpo)} (bound: the archive timeout, as {plan.engine} archives WAL"
                " continuously)"
            )
        else:
            reason = (
                f"longest gap of {_fmt(plan.bound_value)} between scheduled backups"
                f" ('{plan.schedule}') exceeds the RPO of {_fmt(row.rpo)} (bound: the schedule)"
            )
        figures = {"bound_s": _seconds(plan.bound_value), "rpo_s": _seconds(row.rpo)}
        gaps.append(Gap(row.name, "rpo_schedule", Severity.high, reason, figures, plan.bound))
    if plan.verify == "never":
        reason = (
            f"the {plan.engine} backup is never test-restored (verify: never):"
            " a backup never restored is a hope"
        )
        gaps.append(Gap(row.name, "no_verify", Severity.low, reason, subject=plan.engine))
    return gaps


def _native_backups(provider: str) -> str | None:
    """What recovery points the provider's service keeps by itself (None: none, or unknown)."""
    try:
        return provider_info(provider).native_backups
    except NotFound:
        return None


def _restorable_lag_gaps(row: ComponentPlan) -> list[Gap]:
    if row.provider != "aws.rds" or row.rpo >= RDS_RESTORABLE_LAG:
        return []
    reason = (
        f"RPO of {_fmt(row.rpo)} but RDS restores only up to LatestRestorableTime, which lags"
        f" about {_fmt(RDS_RESTORABLE_LAG)} behind: a point-in-time restore loses more"
    )
    figures = {"rpo_s": _seconds(row.rpo), "lag_s": _seconds(RDS_RESTORABLE_LAG)}
    return [Gap(row.name, "rpo_below_restorable_lag", Severity.high, reason, figures, "aws.rds")]


def _approval_gaps(row: ComponentPlan) -> list[Gap]:
    if row.rto >= APPROVAL_RTO_LIMIT:
        return []
    gaps: list[Gap] = []
    for index, step in enumerate(row.strategies, start=1):
        if step.approval:
            reason = (
                f"step {index}, {step.strategy}, waits for an operator's approval but the RTO is"
                f" {_fmt(row.rto)} (under {_fmt(APPROVAL_RTO_LIMIT)}): nobody will answer in time"
            )
            figures = {
                "step": index,
                "rto_s": _seconds(row.rto),
                "limit_s": _seconds(APPROVAL_RTO_LIMIT),
            }
            gaps.append(
                Gap(
                    row.name,
                    "approval_on_fast_rto",
                    Severity.medium,
                    reason,
                    figures,
                    step.strategy,
                )
            )
    return gaps


def _provider_gaps(row: ComponentPlan) -> list[Gap]:
    try:
        info: ProviderInfo = provider_info(row.provider)
    except NotFound as exc:
        return [Gap(row.name, "unknown_provider", Severity.high, str(exc), subject=row.provider)]
    gaps: list[Gap] = []
    can = ", ".join(sorted(s.value for s in info.strategies))
    for index, step in enumerate(row.strategies, start=1):
        if not step.by_function and step.strategy not in info.strategies:
            reason = (
                f"step {index}, {step.strategy}: provider '{info.name}' cannot carry it out"
                f" (it can: {can})"
            )
            gaps.append(
                Gap(
                    row.name,
                    "strategy_unsupported",
                    Severity.high,
                    reason,
                    {"step": index},
                    step.strategy,
                )
            )
    if info.implementation is None:
        reason = (
            f"provider '{info.name}' is not built yet in this version:"
            " plan and validate know it, run cannot recover with it"
        )
        gaps.append(Gap(row.name, "provider_not_built", Severity.low, reason, subject=info.name))
    return gaps


def _criticality_gaps(catalog: Catalog, row: ComponentPlan) -> list[Gap]:
    component = catalog.components[row.name]
    gaps: list[Gap] = []
    for dep_name in row.dependencies:
        dep = catalog.components.get(dep_name)
        if dep is None or dep.criticality.rank >= component.criticality.rank:
            continue
        base = f"{row.criticality} but depends on {dep.criticality.value} {dep_name}"
        if dep.rto > row.rto:
            severity = Severity.high
            reason = f"{base}, whose RTO of {_fmt(dep.rto)} exceeds its own RTO of {_fmt(row.rto)}"
        else:
            severity = Severity.medium
            reason = f"{base} (RTO {_fmt(dep.rto)}, within its own RTO of {_fmt(row.rto)})"
        figures = {
            "rank": component.criticality.rank,
            "dependency_rank": dep.criticality.rank,
            "rto_s": _seconds(row.rto),
            "dependency_rto_s": _seconds(dep.rto),
        }
        gaps.append(Gap(row.name, "criticality_inversion", severity, reason, figures, dep_name))
    return gaps
