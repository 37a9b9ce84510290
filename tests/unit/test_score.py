"""The recoverability score: outcomes against objectives, recency weights, decay with age."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from paramedic.drills.score import HALF_LIFE, Evidence, margin, recoverability

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def drill(
    rto: float | None,
    *,
    days_ago: float = 0.0,
    rpo: float | None = None,
    target_rto: float = 30.0,
    target_rpo: float = 0.0,
    recovered: bool = True,
    ref: str = "1",
    stateless: bool = True,
) -> Evidence:
    """A drill of a stateless component measured ``days_ago`` against a 30s RTO and a 0s RPO
    unless told otherwise (so an RPO not measured does not apply)."""
    return Evidence(
        source="drill",
        ref=ref,
        at=NOW - timedelta(days=days_ago),
        recovered=recovered,
        measured_rto_s=rto,
        measured_rpo_s=rpo,
        target_rto_s=target_rto,
        target_rpo_s=target_rpo,
        stateless=stateless,
    )


def test_no_evidence_scores_zero_and_says_never_proven() -> None:
    score = recoverability("db", [], NOW)
    assert (score.score, score.proven, score.terms, score.newest_at) == (0.0, False, [], None)
    assert score.explain() == "never proven: no drill or incident measured its recovery"


def test_one_clear_pass_today_scores_its_margin() -> None:
    # 6s against 30s: margin 0.8, item 90, newest evidence is fresh (decay 1).
    score = recoverability("web", [drill(6.0)], NOW)
    assert score.score == 90.0
    (term,) = score.terms
    assert (term.margin_rto, term.margin_rpo, term.item_score) == (
        pytest.approx(0.8),
        None,
        pytest.approx(90.0),
    )
    assert score.decay == 1.0
    assert (
        score.explain()
        == "(1×90.0) / 1 = 90.00; × decay 1.0000 (newest 0.0d old, half-life 30d) = 90.0"
    )


def test_one_miss_scores_under_fifty() -> None:
    # 45s against 30s: margin -0.5, item 25.
    score = recoverability("web", [drill(45.0)], NOW)
    assert score.score == 25.0
    assert score.terms[0].evidence.outcome == "missed"


def test_a_miss_far_past_the_target_bottoms_out_at_zero() -> None:
    assert recoverability("web", [drill(300.0)], NOW).score == 0.0


def test_an_aborted_drill_counts_as_a_miss_even_with_figures() -> None:
    # Aborted after 60s: whatever was measured, the recovery did not happen in the drill.
    aborted = replace(drill(60.0, rpo=0.0), recovered=False, aborted=True)
    score = recoverability("web", [aborted], NOW)
    assert score.score == 0.0
    assert aborted.outcome == "aborted"
    assert (score.terms[0].margin_rto, score.terms[0].margin_rpo) == (-1.0, -1.0)


def test_an_incident_never_recovered_counts_as_a_miss() -> None:
    escalated = drill(None, recovered=False)
    assert escalated.outcome == "not_recovered"
    assert recoverability("web", [escalated, drill(6.0, days_ago=1)], NOW).score == round(
        (0 + 0.5 * 90) / 1.5, 1
    )


def test_a_pass_then_a_miss_is_weighted_towards_the_newest() -> None:
    older_pass = drill(6.0, days_ago=2, ref="1")  # item 90
    newer_miss = drill(45.0, days_ago=1, ref="2")  # item 25
    score = recoverability("web", [older_pass, newer_miss], NOW)
    assert [t.evidence.ref for t in score.terms] == ["2", "1"]
    assert [t.weight for t in score.terms] == [1.0, 0.5]
    weighted = (1.0 * 25 + 0.5 * 90) / 1.5
    assert score.weighted == pytest.approx(weighted)
    assert score.score == round(weighted * 0.5 ** (1 / 30), 1) == 45.6
    # The other way round the pass dominates.
    reversed_ = recoverability(
        "web", [drill(6.0, days_ago=1, ref="2"), drill(45.0, days_ago=2, ref="1")], NOW
    )
    assert reversed_.score > score.score


def test_old_evidence_decays_by_half_every_thirty_days() -> None:
    fresh = recoverability("web", [drill(6.0)], NOW).score
    month = recoverability("web", [drill(6.0, days_ago=30)], NOW)
    two_months = recoverability("web", [drill(6.0, days_ago=60)], NOW)
    assert (fresh, month.score, two_months.score) == (90.0, 45.0, 22.5)
    assert month.age_s == HALF_LIFE.total_seconds()
    assert month.decay == pytest.approx(0.5)


def test_rpo_target_zero_is_all_or_nothing() -> None:
    kept = recoverability("db", [drill(6.0, rpo=0.0, target_rpo=0.0)], NOW)
    assert kept.terms[0].margin_rpo == 1.0
    assert kept.score == 90.0  # min(0.8, 1.0) = 0.8: the RTO margin decides
    lost = recoverability("db", [drill(6.0, rpo=0.5, target_rpo=0.0)], NOW)
    assert lost.terms[0].margin_rpo == -1.0
    assert lost.score == 0.0
    assert lost.terms[0].evidence.outcome == "missed"


def test_the_worse_of_rto_and_rpo_margins_decides() -> None:
    score = recoverability("db", [drill(6.0, rpo=45.0, target_rpo=60.0)], NOW)
    assert score.terms[0].margin_rpo == pytest.approx(0.25)
    assert score.score == 62.5


def test_only_the_newest_five_items_count_but_all_are_counted_as_evidence() -> None:
    items = [drill(300.0, days_ago=10 + n, ref=str(n)) for n in range(10)]
    items.append(drill(0.0, days_ago=0, ref="new"))  # item 100
    score = recoverability("web", items, NOW)
    assert len(score.terms) == 5
    assert score.evidence_count == 11
    assert score.terms[0].evidence.ref == "new"
    assert score.score == round(100 / (1 + 0.5 + 0.25 + 0.125 + 0.0625), 1) == 51.6


def test_the_worked_example_of_the_module_docstring() -> None:
    newest = drill(12.0, rpo=0.0, days_ago=15, ref="drill")
    older = Evidence("incident", "inc", NOW - timedelta(days=20), True, 45.0, None, 30.0, 0.0)
    score = recoverability("db", [older, newest], NOW)
    assert [round(t.item_score, 2) for t in score.terms] == [80.0, 25.0]
    assert score.weighted == pytest.approx(61.6667, abs=1e-4)
    assert score.decay == pytest.approx(0.7071, abs=1e-4)
    assert score.score == 43.6
    assert score.to_json()["explain"] == (
        "(1×80.0 + 0.5×25.0) / 1.5 = 61.67; × decay 0.7071 (newest 15.0d old, half-life 30d) = 43.6"
    )


@pytest.mark.parametrize(
    ("measured", "target", "expected"),
    [(None, 30.0, -1.0), (0.0, 0.0, 1.0), (0.1, 0.0, -1.0), (15.0, 30.0, 0.5), (90.0, 30.0, -1.0)],
)
def test_margin(measured: float | None, target: float, expected: float) -> None:
    assert margin(measured, target) == expected


def test_json_shape_has_the_terms() -> None:
    data = recoverability("web", [drill(6.0, rpo=0.0)], NOW).to_json()
    assert data["score"] == 90.0
    assert data["newest_at"] == "2026-06-01T12:00:00.000Z"
    (term,) = data["terms"]
    assert term["outcome"] == "met"
    assert (term["margin_rto"], term["margin_rpo"], term["item_score"], term["weight"]) == (
        0.8,
        1.0,
        90.0,
        1.0,
    )


def test_a_data_objective_failed_without_a_figure_counts_as_a_full_rpo_miss() -> None:
    unbounded = replace(drill(6.0), rpo_failed=True)
    assert (unbounded.outcome, unbounded.rpo_met) == ("missed", False)
    score = recoverability("db", [unbounded], NOW)
    assert (score.terms[0].margin_rpo, score.score) == (-1.0, 0.0)


def test_an_unmeasured_rpo_of_a_stateless_service_with_rpo_zero_does_not_apply() -> None:
    replaced = Evidence("incident", "inc", NOW, True, 6.0, None, 30.0, 0.0, stateless=True)
    assert (replaced.rpo, replaced.rpo_met, replaced.outcome) == ("not_applicable", None, "met")
    score = recoverability("web", [replaced], NOW)
    assert (score.terms[0].margin_rpo, score.score) == (None, 90.0)


@pytest.mark.parametrize(
    ("stateless", "target_rpo"),
    [(False, 0.0), (True, 60.0), (False, 60.0)],
    ids=["data-holding, rpo 0s", "stateless, rpo 1m", "data-holding, rpo 1m"],
)
def test_an_unmeasured_rpo_is_unknown_and_never_met(stateless: bool, target_rpo: float) -> None:
    replaced = Evidence(
        "incident", "inc", NOW, True, 6.0, None, 30.0, target_rpo, stateless=stateless
    )
    assert (replaced.rpo, replaced.rpo_met, replaced.outcome) == ("unknown", None, "unknown")
    assert replaced.to_json()["outcome"] == "unknown"
    score = recoverability("db", [replaced], NOW)
    # RTO margin 0.8, RPO margin 0: the item stops at the line, 50, however fast the RTO
    assert (score.terms[0].margin_rpo, score.terms[0].item_score, score.score) == (0.0, 50.0, 50.0)


def test_an_unknown_rpo_does_not_hide_a_missed_rto() -> None:
    slow = Evidence("incident", "inc", NOW, True, 45.0, None, 30.0, 0.0)
    assert (slow.rpo, slow.outcome) == ("unknown", "missed")
    assert recoverability("db", [slow], NOW).score == 25.0
