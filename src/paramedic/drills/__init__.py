"""Drills: faults injected on purpose, canaries that measure the RPO, the runner and its guards.

    runner = DrillRunner(catalog, store, notifier=notifier)
    result = await runner.run("web", "kill")       # DrillRefused when a guard says no
    result.verdict, result.to_json()

``guards`` and ``window`` are pure; ``canary`` writes into real components; ``runner``
drives a drill against the running agent; ``schedule`` runs scheduled drills in the agent.
"""

from paramedic.drills.canary import CanaryRecord, CanaryReport, canary_for, measure_canaries
from paramedic.drills.guards import DrillRequest, Refusal, first_refusal
from paramedic.drills.runner import DrillRefused, DrillResult, DrillRunner
from paramedic.drills.verdict import judge
from paramedic.drills.window import DrillWindow, parse_window

__all__ = [
    "CanaryRecord",
    "CanaryReport",
    "DrillRefused",
    "DrillRequest",
    "DrillResult",
    "DrillRunner",
    "DrillWindow",
    "Refusal",
    "canary_for",
    "first_refusal",
    "judge",
    "measure_canaries",
    "parse_window",
]
