"""On a failed end-to-end test, show what each agent it started printed last."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e import harness

TAIL_LINES = 80


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for agent in harness.STARTED:
            tail = agent.log().splitlines()[-TAIL_LINES:]
            report.sections.append(
                (f"agent log {agent.log_path.name} (last {len(tail)} lines)", "\n".join(tail))
            )


@pytest.fixture(autouse=True)
def _forget_agents() -> Iterator[None]:
    yield
    harness.STARTED.clear()
