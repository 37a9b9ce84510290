"""The check scheduler, driven by a FakeClock and a fake runner: nothing sleeps for real."""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import random
from collections import Counter
from typing import Any

import pytest

from paramedic.catalog.model import CommandCheck, ProcessCheck
from paramedic.checks import CheckResult, CheckScheduler, FailureClass
from paramedic.clock import FakeClock
from paramedic.errors import NotFound


def _check(name: str, interval: float = 10.0) -> CommandCheck:
    """A check whose first argv word names it, so the fake runner knows whose it is."""
    return CommandCheck.model_validate(
        {"check": "command", "command": [name], "interval": f"{interval}s"}
    )


class FakeRunner:
    """Stands in for run_check: records calls, can hold a component's check until released."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.active: Counter[str] = Counter()
        self.running = 0
        self.max_active = 0
        self.max_active_per_name = 0
        self.fail: set[str] = set()
        self.probes: list[object] = []

    def hold(self, *names: str) -> None:
        for name in names:
            self.gates[name] = asyncio.Event()

    def release(self, name: str) -> None:
        self.gates[name].set()

    async def __call__(
        self, check: Any, *, clock: Any, process_probe: Any = None, http: Any = None
    ) -> CheckResult:
        name = check.command[0] if isinstance(check, CommandCheck) else "process"
        self.calls.append((name, clock.monotonic()))
        self.probes.append(process_probe)
        self.active[name] += 1
        self.running += 1
        self.max_active = max(self.max_active, self.running)
        self.max_active_per_name = max(self.max_active_per_name, self.active[name])
        try:
            if name in self.gates:
                await self.gates[name].wait()
            if name in self.fail:
                raise RuntimeError("boom")
            return CheckResult(ok=True, at=clock.now(), duration_s=0.0, detail=f"ran {name}")
        finally:
            self.active[name] -= 1
            self.running -= 1

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


class Results:
    """An on_result that records what it receives."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, CheckResult]] = []

    def __call__(self, name: str, result: CheckResult) -> None:
        self.seen.append((name, result))

    def names(self) -> list[str]:
        return [name for name, _ in self.seen]


async def settle() -> None:
    """Let every ready task take its steps (no time passes)."""
    for _ in range(20):
        await asyncio.sleep(0)


def scheduler(
    clock: FakeClock, runner: FakeRunner, on_result: Any, concurrency: int = 8, **kw: Any
) -> CheckScheduler:
    return CheckScheduler(clock, concurrency, on_result, runner=runner, rng=random.Random(7), **kw)


async def test_first_checks_are_spread_over_one_interval(fake_clock: FakeClock) -> None:
    runner, results = FakeRunner(), Results()
    sched = scheduler(fake_clock, runner, results)
    for i in range(1000):
        sched.set(f"c{i}", _check(f"c{i}", interval=10))
    assert sched.tick() == []  # nothing is due the moment it is scheduled
    start = fake_clock.monotonic()
    for _ in range(100):
        fake_clock.advance(0.1)
        sched.tick()
        await sched.idle()
    first: dict[str, float] = {}
    for name, at in runner.calls:
        first.setdefault(name, round(at - start, 6))  # the tick (every 0.1s) that started it
    assert len(first) == 1000 and min(first.values()) > 0.0 and max(first.values()) <= 10.0
    per_second = Counter(math.ceil(at) - 1 for at in first.values())
    assert sorted(per_second) == list(range(10))
    assert all(70 <= n <= 130 for n in per_second.values()), per_second


async def test_intervals_are_respected_with_jitter(fake_clock: FakeClock) -> None:
    runner = FakeRunner()

    def on_result(name: str, result: CheckResult) -> None:
        if len(runner.calls) >= 40:
            sched.stop()

    sched = scheduler(fake_clock, runner, on_result)
    sched.set("web", _check("web", interval=10))
    async with asyncio.timeout(5):  # a guard against a loop bug, not a wait
        await sched.run()
    starts = [at for _, at in runner.calls]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) >= 39
    assert all(9.0 <= gap <= 11.0 for gap in gaps), gaps
    assert max(gaps) - min(gaps) > 0.5  # jittered, not marching in step
    assert sched.lag_samples() == pytest.approx([0.0] * len(starts), abs=1e-6)


async def test_concurrency_is_bounded(fake_clock: FakeClock) -> None:
    runner, results = FakeRunner(), Results()
    sched = scheduler(fake_clock, runner, results, concurrency=3)
    names = [f"c{i}" for i in range(10)]
    runner.hold(*names)
    for name in names:
        sched.set(name, _check(name))
    fake_clock.advance(10)
    assert sorted(sched.tick()) == sorted(names)
    await settle()
    assert runner.running == 3
    assert sched.stats().in_flight == 10
    for name in names:
        runner.release(name)
    await sched.idle()
    assert runner.max_active == 3
    assert sorted(results.names()) == sorted(names)


async def test_a_slow_check_is_skipped_not_overlapped(fake_clock: FakeClock) -> None:
    runner, results = FakeRunner(), Results()
    sched = scheduler(fake_clock, runner, results)
    runner.hold("db")
    sched.set("db", _check("db", interval=1))
    fake_clock.advance(1)
    assert sched.tick() == ["db"]
    for _ in range(3):
        fake_clock.advance(1.2)
        assert sched.tick() == []
        await settle()
    assert runner.names() == ["db"] and sched.stats().skipped == 3
    runner.release("db")
    await sched.idle()
    fake_clock.advance(1.2)
    assert sched.tick() == ["db"]
    await sched.idle()
    assert runner.names() == ["db", "db"] and runner.max_active_per_name == 1


async def test_set_replaces_a_check_and_remove_stops_it(fake_clock: FakeClock) -> None:
    runner, results = FakeRunner(), Results()
    sched = scheduler(fake_clock, runner, results)
    sched.set("web", _check("web-v1"))
    fake_clock.advance(10)
    sched.tick()
    await sched.idle()
    sched.set("web", _check("web-v2"))
    fake_clock.advance(10)
    sched.tick()
    await sched.idle()
    assert runner.names() == ["web-v1", "web-v2"]
    assert results.names() == ["web", "web"]
    sched.remove("web")
    sched.remove("never-there")
    fake_clock.advance(60)
    assert sched.tick() == [] and sched.names() == []


async def test_remove_cancels_a_run_in_progress_and_drops_its_result(
    fake_clock: FakeClock,
) -> None:
    runner, results = FakeRunner(), Results()
    sched = scheduler(fake_clock, runner, results)
    runner.hold("web")
    sched.set("web", _check("web"))
    fake_clock.advance(10)
    sched.tick()
    await settle()
    sched.remove("web")
    await sched.idle()
    assert runner.running == 0 and results.seen == []


async def test_check_now_runs_at_once_and_waits_for_a_run_in_progress(
    fake_clock: FakeClock,
) -> None:
    runner, results = FakeRunner(), Results()
    sched = scheduler(fake_clock, runner, results)
    sched.set("db", _check("db"))
    result = await sched.check_now("db")
    assert result.detail == "ran db" and results.seen == [("db", result)]
    await sched.check_now("db", deliver=False)
    assert results.names() == ["db"]

    runner.hold("db")
    fake_clock.advance(10)
    sched.tick()
    await settle()
    waiting = asyncio.create_task(sched.check_now("db"))
    await settle()
    assert len(runner.calls) == 3 and not waiting.done()  # waits for the scheduled run
    runner.release("db")
    assert (await waiting).ok
    assert len(runner.calls) == 4 and runner.max_active_per_name == 1


async def test_check_now_of_an_unknown_component(fake_clock: FakeClock) -> None:
    sched = scheduler(fake_clock, FakeRunner(), Results())
    with pytest.raises(NotFound) as exc:
        await sched.check_now("ghost")
    assert str(exc.value) == "no health check is scheduled for component 'ghost'"


async def test_a_failing_on_result_does_not_stop_the_loop(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    runner = FakeRunner()
    seen: list[str] = []

    async def on_result(name: str, result: CheckResult) -> None:
        seen.append(name)
        if len(seen) == 1:
            raise ValueError("store is down")
        if len(seen) == 3:
            sched.stop()

    sched = scheduler(fake_clock, runner, on_result)
    sched.set("web", _check("web", interval=1))
    with caplog.at_level(logging.WARNING, logger="paramedic.checks.scheduler"):
        async with asyncio.timeout(5):
            await sched.run()
    assert seen == ["web", "web", "web"]
    assert sched.stats().delivery_errors == 1
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert record.getMessage() == "on_result failed for the check result of web"
    assert record.exc_info is not None and "store is down" in str(record.exc_info[1])


async def test_results_arrive_in_the_order_checks_finish(fake_clock: FakeClock) -> None:
    runner, results = FakeRunner(), Results()
    sched = scheduler(fake_clock, runner, results)
    runner.hold("a", "b")
    sched.set("a", _check("a"))
    sched.set("b", _check("b"))
    fake_clock.advance(10)
    sched.tick()
    await settle()
    runner.release("b")
    await settle()
    runner.release("a")
    await sched.idle()
    assert results.names() == ["b", "a"]


async def test_a_runner_that_raises_becomes_an_error_result(fake_clock: FakeClock) -> None:
    runner, results = FakeRunner(), Results()
    runner.fail.add("web")
    sched = scheduler(fake_clock, runner, results)
    sched.set("web", _check("web"))
    result = await sched.check_now("web")
    assert result.failure is FailureClass.error
    assert result.detail == "command check failed: RuntimeError: boom"


async def test_process_checks_get_the_probe_of_their_component(fake_clock: FakeClock) -> None:
    runner, probe = FakeRunner(), object()
    asked: list[str] = []

    def probe_for(name: str) -> Any:
        asked.append(name)
        return probe

    sched = scheduler(fake_clock, runner, Results(), probe_for=probe_for)
    sched.set("worker", ProcessCheck(check="process"))
    sched.set("web", _check("web"))
    await sched.check_now("worker")
    await sched.check_now("web")
    assert asked == ["worker"] and runner.probes == [probe, None]


async def test_lag_is_actual_start_minus_due_time(fake_clock: FakeClock) -> None:
    runner = FakeRunner()
    sched = scheduler(fake_clock, runner, Results())
    sched.set("web", _check("web", interval=10))
    first_due = random.Random(7).uniform(0.0, 10.0)  # the scheduler's first draw
    fake_clock.advance(20)
    sched.tick()
    await sched.idle()
    assert sched.lag_samples() == [pytest.approx(20 - first_due)]
    stats = sched.stats()
    assert stats.lag_max_s == pytest.approx(20 - first_due) and stats.started == 1


async def test_stop_wakes_the_loop_and_cancels_runs_in_progress(fake_clock: FakeClock) -> None:
    runner, results = FakeRunner(), Results()
    sched = scheduler(fake_clock, runner, results)
    runner.hold("web")
    sched.set("web", _check("web", interval=1))
    loop = asyncio.create_task(sched.run())
    await settle()
    assert runner.names() == ["web"]
    sched.stop()
    async with asyncio.timeout(5):
        await loop
    assert runner.running == 0 and results.seen == []
    await sched.aclose()


async def test_ten_thousand_components_every_ten_seconds(fake_clock: FakeClock) -> None:
    async def runner(
        check: Any, *, clock: Any, process_probe: Any = None, http: Any = None
    ) -> CheckResult:
        return CheckResult(ok=True, at=clock.now(), duration_s=0.0)

    start = fake_clock.monotonic()
    counts: Counter[str] = Counter()

    def on_result(name: str, result: CheckResult) -> None:
        counts[name] += 1
        if fake_clock.monotonic() - start >= 30:
            sched.stop()

    sched = CheckScheduler(fake_clock, 256, on_result, runner=runner, rng=random.Random(7))
    check = _check("probe", interval=10)
    for i in range(10_000):
        sched.set(f"c{i}", check)
    async with asyncio.timeout(60):
        await sched.run()
    assert len(counts) == 10_000
    assert set(counts.values()) <= {2, 3, 4}  # 30s of 10s ± 10% intervals
    assert sched.stats().skipped == 0


async def test_runs_cancelled_before_they_started_leave_nothing_running(
    fake_clock: FakeClock,
) -> None:
    runner, results = FakeRunner(), Results()
    sched = scheduler(fake_clock, runner, results)
    sched.set("web", _check("web"))
    sched.set("db", _check("db"))
    fake_clock.advance(10)
    assert sorted(sched.tick()) == ["db", "web"]
    sched.remove("db")  # cancelled before its task took a step
    await sched.aclose()  # and web's too
    assert runner.calls == [] and sched.stats().in_flight == 0
    async with asyncio.timeout(5):  # would wait forever on a run that never ended
        assert (await sched.check_now("web")).ok
    fake_clock.advance(10)
    assert sched.tick() == ["web"]
    await sched.idle()
