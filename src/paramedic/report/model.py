"""The compliance report as a typed model, gathered from the catalog's plan and the state store.

``build_report(catalog, store, now)`` reads; it prints nothing. Every
rendering (terminal, HTML, Markdown) and ``paramedic report --json`` use the
same ``Report``. Evidence is judged against the objectives in the catalog
today, so tightening an objective shows at once in the verdicts and scores.

Evidence per component:

- every drill (``store.drills``; verdicts ``met``, ``missed``, ``aborted``
  from ``paramedic.drills.verdict``); a drill with no measured RTO never
  recovered;
- every real incident of kind ``failure`` or ``manual`` (``paramedic
  recover``, marked ``manual``) that ended (recovered, or escalated: not
  recovered), except those a drill caused (the drill stands for them).
  Backup verifications are not recoveries.

An RPO not measured is ``not_applicable`` when the component keeps no data
(an ``application_server`` or ``load_balancer`` without ``backup:``), its RPO
objective is 0 s and the recovery restored none (no recovery point, no
``restore_from_backup`` or ``failover_to_standby`` step ran); otherwise it is
``unknown``, and unknown is never met (``paramedic.objectives``).

A component is down now when it has an open incident, or when its newest
incident was escalated and the store last saw it failing (``down_now``).

Strategy figures and restore throughput read the steps of every incident,
drills' included.

``--json`` shape (times ISO ``Z``, durations in seconds)::

    {"generated_at", "catalog", "state" (a SQLite file as its path), "state_url",
     "stale_after_s",
     "score_formula": {"newest", "half_life_s"},
     "summary": {"components", "proven", "never_proven", "down_now", "mean_score", "risks",
                 "high_risks", "gaps", "recommendations"},
     "components": [{"name", "inventory" (plan --json row), "verdict",
        "down_now": {"incident_id", "state", "since", "for_s", "target_rto_s", "past_rto",
                     "reason", "sentence"} | null,
        "score": {"score", "proven", "weighted", "decay", "newest_at", "age_s",
                  "half_life_s", "evidence_count", "explain",
                  "terms": [evidence + "margin_rto", "margin_rpo", "item_score", "weight"]},
        "drills"/"incidents": {"met", "missed", "unknown", "not_recovered"},
        "latest_drill", "latest_incident", "evidence": [{"source", "ref", "at",
          "recovered", "outcome", "note", "measured_rto_s", "target_rto_s", "rto_met",
          "measured_rpo_s", "target_rpo_s", "rpo_met", "rpo", "rpo_failed", "manual",
          "incident_id"}],
        "incident_journal": [{"id", "kind", "manual", "state", "failure", "reason",
          "failed_at", "detected_at", "recovered_at", "escalated_at", "strategy",
          "measured_rto_s", "measured_rpo_s", "target_rto_s", "open_for_s", "past_rto",
          "ended", "cause": {"kind", "label", "reason"} | null,
          "steps": [history --json steps]}],
        "strategies": [{"strategy", "attempts", "succeeded", "success_rate", "median_s",
                        "median_success_s"}],
        "recommendations": [{"component", "kind", "strategy", "instead", "reason"}],
        "restores": [{"incident_id", "at", "point_id", "point_taken_at", "size_bytes",
                      "duration_s", "bytes_per_s", "rest_s"}],
        "restore_forecast": {"size_bytes", "bytes_per_s", "restore_s", "rest_s", "rto_s",
                             "target_rto_s", "within", "measurements", "reason", ...} | null,
        "rpo_exposure": {"newest_at", "age_s", "rpo_s", "at_risk", "breached",
                         "continuous", "reason"} | null,
        "gaps": [plan gaps], "risks": [{"component", "kind", "severity", "reason"}]}],
     "strategies": [across components], "recommendations": [...], "gaps": [...],
     "risks": [most severe first]}
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from paramedic.backup.schedule import rpo_exposure
from paramedic.catalog.model import Backup, Catalog, Component
from paramedic.drills.score import HALF_LIFE, NEWEST, Evidence, Score, recoverability
from paramedic.objectives import stateless_recovery
from paramedic.plan import ComponentPlan, Gap, analyze
from paramedic.report.evidence import drill_evidence, incident_evidence, state_shown
from paramedic.report.incidents import DownNow, IncidentEntry, down_now
from paramedic.report.ladder import Recommendation, StrategyStats, recommend, strategy_stats
from paramedic.report.restores import (
    RestoreForecast,
    RestoreMeasurement,
    forecast,
    restore_measurements,
)
from paramedic.report.risks import Exposure, Risk, component_risks
from paramedic.store import (
    ComponentRow,
    DrillRow,
    IncidentKind,
    IncidentRow,
    RecoveryPointRow,
    StepRow,
    Store,
    iso_utc,
)

STALE_AFTER = timedelta(days=30)
"""Evidence older than this is an open risk (``stale_evidence``)."""
MAX_INCIDENTS = 1000
"""Newest incidents read per component."""
JOURNAL_INCIDENTS = 12
"""Newest incidents whose steps the report shows per component (``history`` has them all)."""


@dataclass(frozen=True)
class Tally:
    """How many evidence items met the objectives, missed them, could not show their RPO
    (``unknown``, never counted as met), or never recovered."""

    met: int = 0
    missed: int = 0
    not_recovered: int = 0
    unknown: int = 0

    @classmethod
    def of(cls, items: list[Evidence]) -> Tally:
        """Count ``items`` by outcome (aborted drills count as not recovered)."""
        outcomes = [e.outcome for e in items]
        return cls(
            outcomes.count("met"),
            outcomes.count("missed"),
            outcomes.count("not_recovered") + outcomes.count("aborted"),
            outcomes.count("unknown"),
        )

    @property
    def total(self) -> int:
        """Every item counted."""
        return self.met + self.missed + self.unknown + self.not_recovered

    def to_json(self) -> dict[str, int]:
        """Stable JSON shape of the counts."""
        return {
            "met": self.met,
            "missed": self.missed,
            "unknown": self.unknown,
            "not_recovered": self.not_recovered,
        }


@dataclass(frozen=True)
class ComponentReport:
    """Everything the report says about one component."""

    plan: ComponentPlan
    score: Score
    verdict: str
    """``proven``, ``missed`` (newest evidence missed), ``rpo unknown`` (newest evidence could
    not show its RPO), ``stale`` or ``never proven``."""
    evidence: list[Evidence]
    """Every item, newest first."""
    drills: Tally
    incidents: Tally
    strategies: list[StrategyStats]
    recommendations: list[Recommendation]
    restores: list[RestoreMeasurement]
    restore_forecast: RestoreForecast | None
    exposure: Exposure | None
    gaps: list[Gap]
    risks: list[Risk]
    journal: list[IncidentEntry]
    """The newest incidents with their steps, newest first."""
    down: DownNow | None
    """Set when the component does not serve right now."""

    @property
    def name(self) -> str:
        """The component's name."""
        return self.plan.name

    def latest(self, source: str) -> Evidence | None:
        """The newest drill (``drill``) or incident (``incident``), if any."""
        return next((e for e in self.evidence if e.source == source), None)

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of this component's part of the report."""
        latest_drill, latest_incident = self.latest("drill"), self.latest("incident")
        return {
            "name": self.name,
            "inventory": self.plan.to_json(),
            "score": self.score.to_json(),
            "verdict": self.verdict,
            "down_now": self.down.to_json() if self.down else None,
            "drills": self.drills.to_json(),
            "incidents": self.incidents.to_json(),
            "latest_drill": latest_drill.to_json() if latest_drill else None,
            "latest_incident": latest_incident.to_json() if latest_incident else None,
            "evidence": [e.to_json() for e in self.evidence],
            "strategies": [s.to_json() for s in self.strategies],
            "recommendations": [r.to_json() for r in self.recommendations],
            "restores": [m.to_json() for m in self.restores],
            "restore_forecast": self.restore_forecast.to_json() if self.restore_forecast else None,
            "rpo_exposure": self.exposure.to_json() if self.exposure else None,
            "gaps": [g.to_json() for g in self.gaps],
            "risks": [r.to_json() for r in self.risks],
            "incident_journal": [i.to_json() for i in self.journal],
        }


@dataclass(frozen=True)
class Report:
    """The compliance report: objectives, evidence, scores, strategies, gaps and open risks."""

    generated_at: datetime
    catalog: str
    state: str
    """Where the state lives, for people: a SQLite file as its path, else the URL."""
    state_url: str
    """The state store's URL, password hidden."""
    stale_after: timedelta
    components: list[ComponentReport]
    strategies: list[StrategyStats]
    """Every strategy's figures across all components."""
    gaps: list[Gap]
    risks: list[Risk]
    """Every component's open risks, most severe first."""

    @property
    def recommendations(self) -> list[Recommendation]:
        """Every component's ladder recommendations."""
        return [r for c in self.components for r in c.recommendations]

    def summary(self) -> dict[str, Any]:
        """Counts for the top of every rendering."""
        proven = [c for c in self.components if c.score.proven]
        scores = [c.score.score for c in self.components]
        return {
            "components": len(self.components),
            "proven": len(proven),
            "never_proven": len(self.components) - len(proven),
            "down_now": sum(1 for c in self.components if c.down is not None),
            "mean_score": round(statistics.fmean(scores), 1) if scores else 0.0,
            "risks": len(self.risks),
            "high_risks": sum(1 for r in self.risks if r.severity.value == "high"),
            "gaps": len(self.gaps),
            "recommendations": len(self.recommendations),
        }

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of the whole report (``paramedic report --json``)."""
        return {
            "generated_at": iso_utc(self.generated_at),
            "catalog": self.catalog,
            "state": self.state,
            "state_url": self.state_url,
            "stale_after_s": self.stale_after.total_seconds(),
            "score_formula": {"newest": NEWEST, "half_life_s": HALF_LIFE.total_seconds()},
            "summary": self.summary(),
            "components": [c.to_json() for c in self.components],
            "strategies": [s.to_json() for s in self.strategies],
            "recommendations": [r.to_json() for r in self.recommendations],
            "gaps": [g.to_json() for g in self.gaps],
            "risks": [r.to_json() for r in self.risks],
        }


def _verdict(evidence: list[Evidence], now: datetime, stale_after: timedelta) -> str:
    if not evidence:
        return "never proven"
    if evidence[0].outcome == "unknown":
        return "rpo unknown"
    if evidence[0].outcome != "met":
        return "missed"
    if now - evidence[0].at > stale_after:
        return "stale"
    return "proven"


def _exposure(
    name: str,
    backup: Backup | None,
    rpo: timedelta,
    points: list[RecoveryPointRow],
    now: datetime,
) -> Exposure | None:
    if backup is None:
        return None
    newest = points[0].taken_at if points else None
    return Exposure.of(rpo_exposure(name, newest, rpo, now), newest, backup.archives_continuously)


def _stateless_drill(
    spec: Component,
    drill: DrillRow,
    incidents: dict[str, IncidentRow],
    steps: dict[str, list[StepRow]],
) -> bool:
    caused = incidents.get(drill.incident_id) if drill.incident_id else None
    return stateless_recovery(spec, caused, steps[caused.id] if caused else [])


class _OfComponent(Protocol):
    @property
    def component(self) -> str: ...


_T = TypeVar("_T", bound=_OfComponent)


def _by_component(items: list[_T]) -> dict[str, list[_T]]:
    """``items`` grouped by their component, each group in the order given."""
    out: dict[str, list[_T]] = {}
    for item in items:
        out.setdefault(item.component, []).append(item)
    return out


def build_report(
    catalog: Catalog, store: Store, now: datetime, *, stale_after: timedelta = STALE_AFTER
) -> Report:
    """Gather the report of every component in ``catalog`` from ``store`` as of ``now``."""
    plan = analyze(catalog)
    drills = store.drills()
    caused_by_drill = {d.incident_id for d in drills if d.incident_id}
    seen: dict[str, ComponentRow] = {c.name: c for c in store.components()}
    # One query per table, grouped here, not one per component: at 10,000 components the
    # per-component queries took ~20 s (bench/README.md, section (f)). Newest first, as read.
    incidents_of = _by_component(store.incidents(limit=2**62))
    points_of = _by_component(store.recovery_points())
    drills_of = _by_component(drills)
    gaps_of = _by_component(plan.gaps)
    all_steps: list[StepRow] = []
    components: list[ComponentReport] = []
    for row in plan.inventory:
        spec = catalog.components[row.name]
        rto_s, rpo_s = row.rto.total_seconds(), row.rpo.total_seconds()
        incidents = incidents_of.get(row.name, [])[:MAX_INCIDENTS]
        steps = {i.id: store.steps(i.id) for i in incidents}
        by_id = {i.id: i for i in incidents}
        drilled = [
            drill_evidence(d, rto_s, rpo_s, _stateless_drill(spec, d, by_id, steps))
            for d in drills_of.get(row.name, [])
        ]
        lived = [
            e
            for i in incidents
            if i.id not in caused_by_drill
            and (e := incident_evidence(i, rto_s, rpo_s, stateless_recovery(spec, i, steps[i.id])))
            is not None
        ]
        evidence = sorted(drilled + lived, key=lambda e: e.at, reverse=True)
        own_steps = [s for i in incidents for s in steps[i.id]]
        all_steps.extend(own_steps)
        stats = strategy_stats(own_steps, [s.strategy for s in row.strategies])
        points = points_of.get(row.name, [])
        restores = [m for i in incidents for m in restore_measurements(i, steps[i.id], points)]
        restores.sort(key=lambda m: m.at, reverse=True)
        restore = forecast(restores, points[0] if points else None, rto_s)
        exposure = _exposure(row.name, spec.backup, row.rpo, points, now)
        down = down_now(row.name, incidents, seen.get(row.name), now)
        journal = [
            IncidentEntry(i, steps[i.id], now)
            for i in incidents
            if i.kind != IncidentKind.verification
        ][:JOURNAL_INCIDENTS]
        components.append(
            ComponentReport(
                plan=row,
                score=recoverability(row.name, evidence, now),
                verdict=_verdict(evidence, now, stale_after),
                evidence=evidence,
                drills=Tally.of(drilled),
                incidents=Tally.of(lived),
                strategies=stats,
                recommendations=recommend(row.name, row.strategies, {s.strategy: s for s in stats}),
                restores=restores,
                restore_forecast=restore,
                exposure=exposure,
                gaps=gaps_of.get(row.name, []),
                risks=component_risks(
                    row.name, evidence, now, stale_after, exposure, restore, down
                ),
                journal=journal,
                down=down,
            )
        )
    risks = [r for c in components for r in c.risks]
    # what is down right now comes before everything else of its severity
    risks.sort(key=lambda r: (r.severity.rank, r.kind != "down_now", r.component, r.kind))
    return Report(
        generated_at=now,
        catalog=catalog.source,
        state=state_shown(store.url),
        state_url=store.url,
        stale_after=stale_after,
        components=components,
        strategies=strategy_stats(all_steps),
        gaps=plan.gaps,
        risks=risks,
    )
