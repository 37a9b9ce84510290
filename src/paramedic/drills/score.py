"""The recoverability score: 0–100 per component, from measured outcomes, never from activity.

A component earns a score only from evidence that it came back within its
objectives: drills (faults injected on purpose) and real incidents whose RTO
and RPO were measured. Running a drill that misses scores low; a component
never proven scores 0. Everything is recomputable by hand from the terms that
``recoverability`` returns with the score.

The formula, per evidence item ``e`` (one drill or one incident):

    margin(measured, target) = clamp(1 − measured / target, −1, 1)
        target 0:   1 when measured is 0, else −1
        no measure: −1  (an aborted drill, an incident never recovered)

    item(e) = 50 × (1 + min(margin_rto, margin_rpo))        in [0, 100]

An RPO that was not measured is judged by ``paramedic.objectives.rpo_status``:
``not_applicable`` (an RPO objective of 0 s and nothing stateful touched, such
as a stateless service replaced) is left out of the ``min``; ``unknown`` (a
data-holding component recovered by a strategy that reports no recovery
point) counts as margin 0, so the item can reach the line but never pass it:
unknown is never met. A data objective a drill found failed with no figure
(no RPO could be bounded, or the canaries show corruption) counts as margin
−1; an item that did not recover (aborted drill, escalated incident) scores
0. 50 is the line: above it both objectives held with room to spare (RTO
measured at 40% of the target → 80), below it one was missed (RTO at 150%
of the target → 25).

The newest ``NEWEST`` (5) items are combined with weights halving with each
older item (1, 1/2, 1/4, 1/8, 1/16), so the latest outcome dominates but one
lucky run does not erase a history of misses:

    weighted = Σ wᵢ × item(eᵢ) / Σ wᵢ

and the whole decays with the age of the newest item, half-life ``HALF_LIFE``
(30 days): evidence a month old counts half, two months a quarter:

    decay = 0.5 ^ (age_of_newest / 30 days)
    score = round(weighted × decay, 1)

Worked example: a drill 15 days ago measured RTO 12s against 30s (margin
0.6) and RPO 0s against 0s (margin 1): item 50 × 1.6 = 80. Before it, an
incident took 45s against 30s (margin −0.5), RPO unknown (margin 0): item 25.
weighted = (1 × 80 + 0.5 × 25) / 1.5 = 61.67; decay = 0.5 ^ (15/30) = 0.7071;
score = 43.6.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from paramedic.objectives import RpoStatus, met, rpo_status

NEWEST = 5
"""How many of the newest evidence items the score combines."""

HALF_LIFE = timedelta(days=30)
"""Age of the newest evidence at which the score is halved."""

Source = Literal["drill", "incident"]
Outcome = Literal["met", "missed", "unknown", "aborted", "not_recovered"]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Evidence:
    """One measured recovery of a component: a drill or a real incident, against its objectives."""

    source: Source
    ref: str
    """The drill's id or the incident's id."""
    at: datetime
    """When the failure began: the fault's injection, or the first failed check."""
    recovered: bool
    """False for an aborted drill or an incident that was never recovered (a miss)."""
    measured_rto_s: float | None
    measured_rpo_s: float | None
    target_rto_s: float
    target_rpo_s: float
    note: str = ""
    """For people: a drill's fault, an incident's failure or how it ended."""
    aborted: bool = False
    """A drill stopped before the component recovered (counts as not recovered)."""
    rpo_failed: bool = False
    """The data objective failed with no figure to show: a drill's canaries could bound no
    RPO, or showed corruption. Counts as an RPO margin of −1."""
    stateless: bool = False
    """Nothing stateful was touched: the component keeps no data and the recovery restored
    none. With an RPO objective of 0 s an unmeasured RPO is then not applicable."""
    manual: bool = False
    """A recovery asked for by hand (``paramedic recover``), not a detected failure."""
    incident_id: str | None = None
    """The incident whose steps show this recovery (a drill's own incident, if any)."""

    @property
    def rto_met(self) -> bool | None:
        """Measured RTO within the target; None when not measured."""
        return met(self.measured_rto_s, self.target_rto_s)

    @property
    def rpo_met(self) -> bool | None:
        """Measured RPO within the target (False when ``rpo_failed``); None when not measured."""
        return False if self.rpo_failed else met(self.measured_rpo_s, self.target_rpo_s)

    @property
    def rpo(self) -> RpoStatus:
        """``met``, ``missed``, ``not_applicable`` or ``unknown`` (``objectives.rpo_status``)."""
        return rpo_status(
            self.measured_rpo_s, self.target_rpo_s, stateless=self.stateless, failed=self.rpo_failed
        )

    @property
    def outcome(self) -> Outcome:
        """``met`` (RTO held, RPO held or not applicable), ``missed``, ``unknown`` (RTO held,
        RPO unknown), ``aborted`` or ``not_recovered``."""
        if self.aborted:
            return "aborted"
        if not self.recovered or self.measured_rto_s is None:
            return "not_recovered"
        if not self.rto_met or self.rpo == "missed":
            return "missed"
        return "unknown" if self.rpo == "unknown" else "met"

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of this item."""
        return {
            "source": self.source,
            "ref": self.ref,
            "at": _iso(self.at),
            "recovered": self.recovered,
            "outcome": self.outcome,
            "note": self.note,
            "measured_rto_s": self.measured_rto_s,
            "target_rto_s": self.target_rto_s,
            "rto_met": self.rto_met,
            "measured_rpo_s": self.measured_rpo_s,
            "target_rpo_s": self.target_rpo_s,
            "rpo_met": self.rpo_met,
            "rpo": self.rpo,
            "rpo_failed": self.rpo_failed,
            "manual": self.manual,
            "incident_id": self.incident_id,
        }


def margin(measured: float | None, target: float) -> float:
    """``clamp(1 − measured/target, −1, 1)``; a target of 0 is all (1) or nothing (−1)."""
    if measured is None:
        return -1.0
    if target <= 0:
        return 1.0 if measured <= 0 else -1.0
    return max(-1.0, min(1.0, 1.0 - measured / target))


@dataclass(frozen=True)
class ItemTerm:
    """How one evidence item entered the score: its margins, its item score and its weight."""

    evidence: Evidence
    margin_rto: float
    margin_rpo: float | None
    """None when the RPO does not apply (left out of the min); 0 when it is unknown."""
    item_score: float
    weight: float

    def to_json(self) -> dict[str, Any]:
        """The evidence with its terms."""
        return {
            **self.evidence.to_json(),
            "margin_rto": round(self.margin_rto, 4),
            "margin_rpo": None if self.margin_rpo is None else round(self.margin_rpo, 4),
            "item_score": round(self.item_score, 2),
            "weight": self.weight,
        }


def item_term(evidence: Evidence, weight: float) -> ItemTerm:
    """The margins and the item score of one piece of evidence."""
    if evidence.outcome in ("aborted", "not_recovered"):
        return ItemTerm(evidence, -1.0, -1.0, 0.0, weight)
    m_rto = margin(evidence.measured_rto_s, evidence.target_rto_s)
    m_rpo: float | None
    if evidence.rpo_failed:
        m_rpo = -1.0
    elif evidence.rpo == "not_applicable":
        m_rpo = None
    elif evidence.rpo == "unknown":
        m_rpo = 0.0  # neither held nor failed: the item can reach the line, never pass it
    else:
        m_rpo = margin(evidence.measured_rpo_s, evidence.target_rpo_s)
    worst = m_rto if m_rpo is None else min(m_rto, m_rpo)
    return ItemTerm(evidence, m_rto, m_rpo, 50.0 * (1.0 + worst), weight)


@dataclass(frozen=True)
class Score:
    """A component's recoverability score with every term that produced it."""

    component: str
    score: float
    """0–100, one decimal."""
    terms: list[ItemTerm]
    """The items combined, newest first."""
    weighted: float
    """Recency-weighted mean of the item scores, before decay."""
    newest_at: datetime | None
    age_s: float | None
    """Age of the newest evidence at the time of scoring."""
    decay: float
    half_life_s: float
    evidence_count: int
    """Every item known, including those older than the ``NEWEST`` combined."""

    @property
    def proven(self) -> bool:
        """True when at least one drill or incident measured this component's recovery."""
        return self.evidence_count > 0

    def explain(self) -> str:
        """One line a person can recompute: the weighted mean, the decay, the result."""
        if not self.terms:
            return "never proven: no drill or incident measured its recovery"
        items = " + ".join(f"{t.weight:g}×{t.item_score:.1f}" for t in self.terms)
        total = sum(t.weight for t in self.terms)
        days = (self.age_s or 0.0) / 86400
        return (
            f"({items}) / {total:g} = {self.weighted:.2f};"
            f" × decay {self.decay:.4f} (newest {days:.1f}d old,"
            f" half-life {self.half_life_s / 86400:g}d) = {self.score:.1f}"
        )

    def to_json(self) -> dict[str, Any]:
        """Stable JSON shape of the score and its terms."""
        return {
            "component": self.component,
            "score": self.score,
            "proven": self.proven,
            "weighted": round(self.weighted, 4),
            "decay": round(self.decay, 6),
            "newest_at": None if self.newest_at is None else _iso(self.newest_at),
            "age_s": self.age_s,
            "half_life_s": self.half_life_s,
            "evidence_count": self.evidence_count,
            "explain": self.explain(),
            "terms": [t.to_json() for t in self.terms],
        }


def recoverability(
    component: str,
    evidence: Sequence[Evidence],
    now: datetime,
    *,
    newest: int = NEWEST,
    half_life: timedelta = HALF_LIFE,
) -> Score:
    """Score ``component`` from its evidence (any order) as of ``now``; 0 when there is none."""
    half_life_s = half_life.total_seconds()
    ordered = sorted(evidence, key=lambda e: e.at, reverse=True)
    if not ordered:
        return Score(component, 0.0, [], 0.0, None, None, 0.0, half_life_s, 0)
    terms = [item_term(e, 0.5**i) for i, e in enumerate(ordered[:newest])]
    weighted = sum(t.weight * t.item_score for t in terms) / sum(t.weight for t in terms)
    newest_at = ordered[0].at
    age_s = max(0.0, (now - newest_at).total_seconds())
    decay = math.pow(0.5, age_s / half_life_s)
    return Score(
        component,
        round(weighted * decay, 1),
        terms,
        weighted,
        newest_at,
        age_s,
        decay,
        half_life_s,
        len(ordered),
    )
