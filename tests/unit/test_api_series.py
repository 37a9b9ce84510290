"""``ComponentGauge`` writes the very text prometheus_client writes for the same family."""

from __future__ import annotations

import math

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from paramedic.api.series import ComponentGauge

NAMES = ["web", "db-1", "a.b_c", 'quo"te', "back\\slash", "new\nline"]
VALUES = [1.0, 0.0, 30.0, 0.25, 1e21, 123456789.125, math.nan, math.inf, -math.inf, 3]


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def _library_text(families: list[Metric]) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry).decode()


def test_one_label_family_matches_prometheus_client() -> None:
    ours = ComponentGauge("paramedic_component_up", "1 when healthy\nelse 0 \\ no")
    theirs = GaugeMetricFamily(
        "paramedic_component_up", "1 when healthy\nelse 0 \\ no", labels=["component"]
    )
    for i, name in enumerate(NAMES):
        ours.add(name, VALUES[i % len(VALUES)])
        theirs.add_metric([name], VALUES[i % len(VALUES)])
    for value in VALUES:
        ours.add("web", value)
        theirs.add_metric(["web"], value)
    assert ours.text() == _library_text([theirs])


def test_two_label_family_and_an_empty_family_match_prometheus_client() -> None:
    state = ComponentGauge("paramedic_component_state", "1 for the state", extra="state")
    empty = ComponentGauge("paramedic_component_last_rto_seconds", "Measured RTO")
    theirs = GaugeMetricFamily(
        "paramedic_component_state", "1 for the state", labels=["component", "state"]
    )
    for name in NAMES:
        state.add(name, 1.0, 'fail"ed')
        theirs.add_metric([name, 'fail"ed'], 1.0)
    none = GaugeMetricFamily(
        "paramedic_component_last_rto_seconds", "Measured RTO", labels=["component"]
    )
    assert state.text() + empty.text() == _library_text([theirs, none])
