"""`health.start_period` end to end: the real `paramedic run` owning a service that listens
only 2 s after it starts, checked every 300 ms (two failures open an incident)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import (
    component,
    history,
    service_block,
    start_agent,
    starts,
    wait_for,
    write_catalog,
)
from tests.servers import free_port

pytestmark = pytest.mark.e2e

SLOW = {"START_DELAY": "2"}


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    for name in ("patient", "hasty"):
        (tmp_path / name).mkdir()
    yield tmp_path
    for name in ("patient", "hasty"):
        for pid in starts(tmp_path / name):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def check(port: int, start_period: str | None) -> str:
    grace = f", start_period: {start_period}" if start_period else ""
    return (
        f'{{check: http, url: "http://127.0.0.1:{port}/", interval: 300ms, timeout: 300ms, '
        f"failures: 2{grace}}}"
    )


def test_a_slow_starter_is_not_killed_during_its_start_period_at_start_or_after_a_restart(
    workdir: Path,
) -> None:
    patient, hasty = free_port(), free_port()
    blocks = service_block(
        "patient",
        patient,
        workdir / "patient",
        extra_env=SLOW,
        check=check(patient, "5s"),
        # Shorter than the 2 s the service needs: verification waits out the start period.
        recovery="[{strategy: restart_service, timeout: 1s}]",
    ) + service_block("hasty", hasty, workdir / "hasty", extra_env=SLOW, check=check(hasty, None))
    write_catalog(workdir, blocks)
    agent = start_agent(workdir)
    try:
        wait_for("patient healthy", lambda: component(workdir, "patient").get("state") == "healthy")
        assert starts(workdir / "patient")[1:] == [], "started once: not killed while starting"
        assert history(workdir, "patient") == []
        # The control: the same service without a start period is killed while it starts.
        wait_for("hasty restarted", lambda: len(starts(workdir / "hasty")) >= 2)
        assert history(workdir, "hasty")[-1]["failure"] == "refused"

        os.kill(starts(workdir / "patient")[0], signal.SIGKILL)
        incident = wait_for(
            "patient's incident to close",
            lambda: next(
                (
                    i
                    for i in history(workdir, "patient")
                    if i["state"] in ("recovered", "escalated")
                ),
                None,
            ),
        )
        assert incident["state"] == "recovered", agent.log()
        assert [s["status"] for s in incident["steps"]] == ["succeeded"]
        assert "verified" in incident["steps"][0]["output"]
        assert len(starts(workdir / "patient")) == 2
    finally:
        agent.stop()
    assert '"start_period"' in agent.log()
