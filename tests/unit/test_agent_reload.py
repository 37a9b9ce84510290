"""SIGHUP's reload: alone, a new component is taken charge of at once; among several agents,
only through the next division (never by whichever agent received the signal)."""

from __future__ import annotations

import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from paramedic.agent.parts import AgentParts, Watch, detector_for
from paramedic.agent.reload import Reload
from paramedic.catalog.loader import load_catalog
from paramedic.checks import CheckScheduler
from paramedic.clock import FakeClock
from paramedic.decisions import DecisionLog
from paramedic.recovery import workflow
from paramedic.store import Store

ONE = """\
version: 1
state: sqlite:///state.db
components:
  web:
    type: application_server
    rto: 30s
    rpo: 0s
    provider: process
    spec: {command: [sleep, "60"]}
    health: {check: tcp, port: 1}
"""
TWO = (
    ONE
    + """\
  api:
    type: application_server
    rto: 30s
    rpo: 0s
    provider: process
    spec: {command: [sleep, "60"]}
    health: {check: tcp, port: 2}
"""
)


class Follower:
    """Something that keeps a catalog of its own (the backup service, the AWS side)."""

    catalog: Any = None


async def _reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, shared: bool) -> Any:
    path = tmp_path / "paramedic.yaml"
    path.write_text(ONE)
    catalog = load_catalog(str(path))
    clock = FakeClock(datetime(2026, 12, 2, 14, 0, tzinfo=UTC))
    parts = AgentParts(catalog=catalog, clock=clock, decisions=DecisionLog("json", None))
    parts.store = Store.open(f"sqlite:///{tmp_path / 'state.db'}")
    parts.scheduler = CheckScheduler(clock, 4, on_result=lambda _n, _r: None)
    parts.watches["web"] = Watch(detector_for("web", catalog.components["web"]), None)
    parts.scheduler.set("web", catalog.components["web"].health)
    engine = types.SimpleNamespace(catalog=catalog)
    monkeypatch.setattr(workflow, "engine", lambda: engine)
    taken: list[str] = []

    async def take_charge(name: str) -> Watch:
        taken.append(name)
        watch = parts.watches[name] = Watch(
            detector_for(name, parts.catalog.components[name]), None
        )
        return watch

    follower = Follower()
    reload = Reload(parts, [follower], take_charge, shared=lambda: shared)
    path.write_text(TWO)
    await reload()
    return types.SimpleNamespace(parts=parts, taken=taken, follower=follower, engine=engine)


async def test_alone_a_new_component_is_taken_charge_of_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = await _reload(tmp_path, monkeypatch, shared=False)
    assert done.taken == ["api"]
    assert sorted(done.parts.scheduler.names()) == ["api", "web"]
    assert done.follower.catalog is done.parts.catalog is done.engine.catalog
    assert "api" in done.parts.catalog.components


async def test_among_several_agents_a_new_component_waits_for_the_division(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    done = await _reload(tmp_path, monkeypatch, shared=True)
    assert done.taken == []  # its owner takes charge at the next division, not this agent
    assert done.parts.scheduler.names() == ["web"]
    assert done.follower.catalog is done.parts.catalog  # the catalog itself is swapped
