"""Membership on a real PostgreSQL: the division reads the recorded hosts; renewal never waits.

The other agents are lease rows written through the store, as a live agent writes them.
"""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest

from paramedic.agent.membership import Identity, Membership
from paramedic.agent.parts import AgentParts
from paramedic.catalog.loader import load_catalog
from paramedic.clock import RealClock
from paramedic.decisions import DecisionLog
from paramedic.register import register_components
from paramedic.store import Store
from tests.servers import PostgresServer

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BOUND = [f"p{i:02d}" for i in range(40)]


@pytest.fixture
def state_url(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"m_{uuid.uuid4().hex}"
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql://postgres@127.0.0.1:{postgres_server.port}/{name}"
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _parts(tmp_path: Path, state_url: str, heartbeat: str = "1s", ttl: str = "6s") -> AgentParts:
    lines = [
        "version: 1",
        "location: test",
        f"state: {state_url}",
        f"agent: {{heartbeat: {heartbeat}, lease_ttl: {ttl}}}",
        "components:",
    ]
    for name in BOUND:
        lines.append(
            f"  {name}: {{type: application_server, rto: 1m, rpo: 0s, provider: process, "
            f'spec: {{command: ["sleep", "60"]}}, health: {{check: process}}, '
            f"recovery: [{{strategy: restart_service}}]}}"
        )
    (tmp_path / "paramedic.yaml").write_text("\n".join(lines) + "\n")
    catalog = load_catalog(str(tmp_path / "paramedic.yaml"))
    parts = AgentParts(
        catalog=catalog, clock=RealClock(), decisions=DecisionLog("text", io.StringIO())
    )
    parts.store = Store.open(catalog.state_url())
    register_components(parts.store, catalog)
    return parts


def _lease(store: Store, name: str, host: str) -> None:
    store.renew_lease(
        name,
        host=host,
        pid=1,
        run_start=START,
        executor_id=f"{name}@1",
        tags=[f"host:{host}"],
        catalog="/x",
    )


async def _nothing(gained: set[str], lost: set[str]) -> None:
    return None


async def _no_resume(incident: object) -> None:
    return None


def test_a_joining_host_takes_no_host_bound_component_from_a_live_host(
    tmp_path: Path, state_url: str
) -> None:
    """F2: an agent of h2 joining finds every process recorded on h1, whose agent lives."""
    parts = _parts(tmp_path, state_url)
    try:
        _lease(parts.store, "h1:a", "h1")
        parts.store.record_hosts(BOUND, "h1")
        me = Identity("h2:a", "h2", 1, START)
        membership = Membership(parts, me, redivide=_nothing, resume=_no_resume)
        owned = asyncio.run(membership.join())
        assert owned == set()
        assert set(membership.division.values()) == {"h1:a"}
        assert parts.store.component_hosts() == dict.fromkeys(BOUND, "h1")
        # h1's agent gone: h2 takes everything
        parts.store.release_lease("h1:a", "h1:a@1")
        assert asyncio.run(membership.join()) == set(BOUND)
    finally:
        parts.store.close()


class _StoodDown(Exception):
    pass


def test_the_lease_is_renewed_while_a_division_takes_charge_slowly(
    tmp_path: Path, state_url: str
) -> None:
    """F7: a redivide that takes 3 s (a slow provider start) delays no renewal (margin 1.5 s)."""
    parts = _parts(tmp_path, state_url, heartbeat="500ms", ttl="2s")
    stood_down: list[str] = []
    joined = asyncio.Event()

    async def slow(gained: set[str], lost: set[str]) -> None:
        if joined.is_set():  # at start the core takes charge itself
            await asyncio.sleep(3.0)

    def stand_down(why: str) -> NoReturn:
        stood_down.append(why)
        raise _StoodDown(why)

    async def scenario() -> list[float]:
        membership = Membership(
            parts, Identity("h1:a", "h1", 1, START), redivide=slow, resume=_no_resume
        )
        membership.stand_down = stand_down  # type: ignore[method-assign]
        await membership.join()
        joined.set()
        membership.owned = set()  # the next division gains everything: a slow redivide
        runner = asyncio.create_task(membership.run())
        ages = []
        for _ in range(16):
            await asyncio.sleep(0.25)
            (lease,) = await asyncio.to_thread(parts.store.leases)
            ages.append(lease.age_s)
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        return ages

    try:
        ages = asyncio.run(scenario())
    except _StoodDown:
        ages = []
    finally:
        parts.store.close()
    assert stood_down == [], (stood_down, ages)
    assert max(ages) < 1.5, ages  # renewed every 0.5 s throughout (generous bound)


class _Fence:
    """This agent's standing as the engine sees it: name, ttl, and the division it read."""

    shared = True

    def __init__(self, agent: str, division: dict[str, str | None]) -> None:
        self._agent, self.division = agent, division

    @property
    def agent(self) -> str:
        return self._agent

    @property
    def ttl_s(self) -> float:
        return 6.0

    def may_act(self) -> bool:
        return True

    def stand_down(self, why: str) -> NoReturn:
        raise _StoodDown(why)

    def owner_of(self, component: str) -> str | None:
        return self.division.get(component)


def test_a_manual_recovery_goes_to_the_owners_queue_and_a_non_owner_refuses_it(
    tmp_path: Path, state_url: str
) -> None:
    """F8: the CLI/API queue is the owner's own; begin on another agent refuses, stands
    nothing down, claims nothing; attempt without a provider fails the step in words."""
    from paramedic.agent.routing import manual_queue, owner_run
    from paramedic.manual import open_manual_incident
    from paramedic.notify import RecordingNotifier
    from paramedic.recovery import durable
    from paramedic.recovery.engine import RecoveryEngine

    parts = _parts(tmp_path, state_url)
    store, catalog = parts.store, parts.catalog
    try:
        assert manual_queue(store, catalog, "p00") is None  # no live agent: run it here
        _lease(store, "h1:a", "h1")
        _lease(store, "h1:b", "h1")
        owner = owner_run(store, catalog, "p00")
        assert owner is not None
        assert manual_queue(store, catalog, "p00") == durable.takeover_queue(owner.executor_id)
        other = "h1:b" if owner.name == "h1:a" else "h1:a"

        async def never(_name: str) -> object:
            raise AssertionError("no check runs")

        incident = open_manual_incident(catalog, store, "p00", None)
        engine = RecoveryEngine(
            catalog,
            store,
            RealClock(),
            {},
            never,  # type: ignore[arg-type]
            RecordingNotifier(),
            fence=_Fence(other, {"p00": owner.name}),
        )
        plan = asyncio.run(engine.begin(incident.id, None))
        assert plan == {"refused": f"p00 is owned by {owner.name}"}
        assert store.incident(incident.id).agent is None  # not claimed
        # the owner itself, missing its provider (never built here): a step failed in words
        mine = RecoveryEngine(
            catalog,
            store,
            RealClock(),
            {},
            never,  # type: ignore[arg-type]
            RecordingNotifier(),
            fence=_Fence(owner.name, {"p00": owner.name}),
        )
        plan = asyncio.run(mine.begin(incident.id, None))
        assert "steps" in plan and store.incident(incident.id).agent == owner.name
        done = asyncio.run(mine.attempt(incident.id, plan["steps"][0]))
        assert done["ok"] is False
        assert done["error"].startswith(f"{owner.name} is not in charge of p00")
    finally:
        store.close()


def test_the_division_is_computed_again_only_when_its_inputs_change(
    tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A heartbeat that reads the same leases, recoveries and hosts reuses the last division."""
    import paramedic.agent.membership as membership_module

    calls: list[int] = []
    real_divide = membership_module.divide

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real_divide(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(membership_module, "divide", counting)
    parts = _parts(tmp_path, state_url)
    try:
        _lease(parts.store, "h1:a", "h1")
        membership = Membership(
            parts, Identity("h1:b", "h1", 1, START), redivide=_nothing, resume=_no_resume
        )

        async def scenario() -> None:
            await membership.join()
            first = dict(membership.division)
            await membership.tick()
            await membership.tick()
            assert len(calls) == 1 and membership.division == first
            parts.store.record_hosts(BOUND[:1], "h1")  # a host recorded: divided again
            await membership.tick()
            assert len(calls) == 2
            parts.store.release_lease("h1:a", "h1:a@1")  # a member gone: divided again
            await membership.tick()
            assert len(calls) == 3 and set(membership.division.values()) == {"h1:b"}
            await membership.stop_renewing()

        asyncio.run(scenario())
    finally:
        parts.store.close()


class _Exited(Exception):
    pass


def test_standing_down_kills_the_helpers_it_was_running(
    tmp_path: Path, state_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restore or command still running when the lease is lost dies with the run (the new
    owner may be redoing that step); the decision line says how many."""
    import os

    from paramedic.providers.local.commands import run_command

    parts = _parts(tmp_path, state_url)
    out = io.StringIO()
    parts.decisions = DecisionLog("text", out)

    def exit_(code: int) -> NoReturn:
        raise _Exited(code)

    monkeypatch.setattr(os, "_exit", exit_)
    membership = Membership(
        parts,
        Identity("h1:a", "h1", 1, START),
        redivide=_nothing,
        resume=_no_resume,
        restart_on_fence=False,
    )

    async def scenario() -> int:
        task = asyncio.create_task(run_command(["sleep", "60"], cwd=None, env=os.environ))
        await asyncio.sleep(0.3)
        with pytest.raises(_Exited):
            membership.stand_down("a test")
        code, _ = await asyncio.wait_for(task, 5)
        return code

    try:
        assert asyncio.run(scenario()) == -9
        assert "killed 1 helper process(es) it was running" in out.getvalue(), out.getvalue()
    finally:
        parts.store.close()
