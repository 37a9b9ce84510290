"""The compliance report as a typed model, gathered from the catalog's plan and the state store.

``build_report(catalog, store, now)`` reads; it prints nothing. Every
rendering (terminal, HTML, Markdown) and ``paramedic report --json`` use the
same ``Report``. Evidence is judged against the objectives in the catalog
today, so tightening an objective shows at once in the verdicts and scores.

Evidence per component:

- every drill (``store.drills``; verdicts ``met``, ``missed``, ``aborted``
  from ``paramedic.drills.verdict``); a drill with no measured RTO never
  recovered;
- every real incident of kind ``failure`` that ended (recovered, or
  escalated: not recovered), except those a drill caused (the drill stands
  for them). Manual recoveries and backup verifications are not failures.

Strategy figures and restore throughput read the steps of every incident,
drills' included.

``--json`` shape (times ISO ``Z``, durations in seconds)::

    {"generated_at", "catalog", "state", "stale_after_s",
     "score_formula": {"newest", "half_life_s"},
     "summary": {"components", "proven", "never_proven", "mean_score", "risks",
                 "high_risks", "gaps", "recommendations"},
     "components": [{"name", "inventory" (plan --json row), "verdict",
        "score": {"score", "proven", "weighted", "decay", "newest_at", "age_s",
                  "half_life_s", "evidence_count", "explain",
                  "terms": [evidence + "margin_rto", "margin_rpo", "item_score", "weight"]},
        "drills"/"incidents": {"met", "missed", "not_recovered"},
        "latest_drill", "latest_incident", "evidence": [{"source", "ref", "at",
          "recovered", "outcome", "note", "measured_rto_s", "target_rto_s", "rto_met",
          "measured_rpo_s", "target_rpo_s", "rpo_met", "rpo_failed"}],
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
from typing import Any

from paramedic.backup.schedule import rpo_exposure
from paramedic.catalog.model import Backup, Catalog
from paramedic.drills.score import HALF_LIFE, NEWEST, Evidence, Score, recoverability
from paramedic.plan import ComponentPlan, Gap, analyze
from paramedic.report.ladder import Recommendation, StrategyStats, recommend, strategy_stats
from paramedic.report.restores import (
    RestoreForecast,
    RestoreMeasurement,
    forecast,
    restore_measurements,
)
from paramedic.report.risks import Exposure, Risk, component_risks
from paramedic.store import (
    DrillRow,
    IncidentKind,
    IncidentRow,
    IncidentState,
    RecoveryPointRow,
    StepRow,
    Store,
    iso_utc,
)

STALE_AFTER = timedelta(days=30)
"""Evidence older than this is an open risk (``stale_evidence``)."""
MAX_INCIDENTS = 1000
"""Newest incidents read per component."""


@dataclass(frozen=True)
class Tally:
    """How many evidence items met the objectives, missed them, or never recovered."""

    met: int = 0
    missed: int = 0
    not_recovered: int = 0

    @classmethod
    def of(cls, items: list[Evidence]) -> Tally:
        """Count ``items`` by outcome (aborted drills count as not recovered)."""
        outcomes = [e.outcome for e in items]
        return cls(
            outcomes.count("met"),
            outcomes.count("missed"),
            outcomes.count("not_recovered") + outcomes.count("aborted"),
        )

    @property
    def total(self) -> int:
        """Every item counted."""
        return self.met + self.missed + self.not_recovered

    def to_json(self) -> dict[str, int]:
        """Stable JSON shape of the counts."""
        return {"met": self.met, "missed": self.missed, "not_recovered": self.not_recovered}


@dataclass(frozen=True)
class ComponentReport:
    """Everything the report says about one component."""

    plan: ComponentPlan
    score: Score
    verdict: str
    """``proven``, ``missed`` (newest evidence missed), ``stale`` or ``never proven``."""
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
        }


@dataclass(frozen=True)
class Report:
    """The compliance report: objectives, evidence, scores, strategies, gaps and open risks."""

    generated_at: datetime
    catalog: str
    state: str
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
            "stale_after_s": self.stale_after.total_seconds(),
            "score_formula": {"newest": NEWEST, "half_life_s": HALF_LIFE.total_seconds()},
            "summary": self.summary(),
            "components": [c.to_json() for c in self.components],
            "strategies": [s.to_json() for s in self.strategies],
            "recommendations": [r.to_json() for r in self.recommendations],
            "gaps": [g.to_json() for g in self.gaps],
            "risks": [r.to_json() for r in self.risks],
        }


def drill_evidence(row: DrillRow, rto_s: float, rpo_s: float) -> Evidence:
    """A drill as evidence, judged against ``rto_s``/``rpo_s`` (the catalog's objectives).

    A drill the runner judged ``missed`` although it recovered with figures within the
    targets of its day (or with no RPO at all) failed on data the figures do not show:
    canaries that bound no RPO, or corruption. That stays a failed RPO whatever the targets.
    """
    aborted = row.verdict.lower().startswith("abort")
    recovered = not aborted and row.measured_rto_s is not None
    hidden = row.measured_rpo_s is None or (bool(row.rto_met) and bool(row.rpo_met))
    return Evidence(
        source="drill",
        ref=str(row.id),
        at=row.started_at,
        recovered=recovered,
        measured_rto_s=row.measured_rto_s,
        measured_rpo_s=row.measured_rpo_s,
        target_rto_s=rto_s,
        target_rpo_s=rpo_s,
        note=f"{row.fault}, {row.verdict}",
        aborted=aborted,
        rpo_failed=recovered and row.verdict == "missed" and hidden,
    )


def incident_evidence(row: IncidentRow, rto_s: float, rpo_s: float) -> Evidence | None:
    """A finished failure incident as evidence; None for any other incident."""
    state = IncidentState(row.state)
    if row.kind != IncidentKind.failure or state.is_open or state is IncidentState.cancelled:
        return None
    recovered = state is IncidentState.recovered
    how = row.strategy if recovered and row.strategy else state.value
    return Evidence(
        source="incident",
        ref=row.id,
        at=row.failed_at,
        recovered=recovered,
        measured_rto_s=row.measured_rto_s if recovered else None,
        measured_rpo_s=row.measured_rpo_s if recovered else None,
        target_rto_s=rto_s,
        target_rpo_s=rpo_s,
        note=f"{row.failure or 'failure'}, {how}",
    )


def _verdict(evidence: list[Evidence], now: datetime, stale_after: timedelta) -> str:
    if not evidence:
        return "never proven"
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


def build_report(
    catalog: Catalog, store: Store, now: datetime, *, stale_after: timedelta = STALE_AFTER
) -> Report:
    """Gather the report of every component in ``catalog`` from ``store`` as of ``now``."""
    plan = analyze(catalog)
    drills = store.drills()
    caused_by_drill = {d.incident_id for d in drills if d.incident_id}
    all_steps: list[StepRow] = []
    components: list[ComponentReport] = []
    for row in plan.inventory:
        spec = catalog.components[row.name]
        rto_s, rpo_s = row.rto.total_seconds(), row.rpo.total_seconds()
        incidents = store.incidents(row.name, limit=MAX_INCIDENTS)
        steps = {i.id: store.steps(i.id) for i in incidents}
        drilled = [drill_evidence(d, rto_s, rpo_s) for d in drills if d.component == row.name]
        lived = [
            e
            for i in incidents
            if i.id not in caused_by_drill and (e := incident_evidence(i, rto_s, rpo_s)) is not None
        ]
        evidence = sorted(drilled + lived, key=lambda e: e.at, reverse=True)
        own_steps = [s for i in incidents for s in steps[i.id]]
        all_steps.extend(own_steps)
        stats = strategy_stats(own_steps, [s.strategy for s in row.strategies])
        points = store.recovery_points(row.name)
        restores = [m for i in incidents for m in restore_measurements(i, steps[i.id], points)]
        restores.sort(key=lambda m: m.at, reverse=True)
        restore = forecast(restores, points[0] if points else None, rto_s)
        exposure = _exposure(row.name, spec.backup, row.rpo, points, now)
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
                gaps=[g for g in plan.gaps if g.component == row.name],
                risks=component_risks(row.name, evidence, now, stale_after, exposure, restore),
            )
        )
    risks = [r for c in components for r in c.risks]
    risks.sort(key=lambda r: (r.severity.rank, r.component, r.kind))
    return Report(
        generated_at=now,
        catalog=catalog.source,
        state=store.url,
        stale_after=stale_after,
        components=components,
        strategies=strategy_stats(all_steps),
        gaps=plan.gaps,
        risks=risks,
    )
