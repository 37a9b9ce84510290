"""The check scheduler: every component's check on its interval, in one loop.

One loop over a heap of due times (monotonic clock) rather than one sleeping task
per component, so 10,000 components cost a heap pop each, not 10,000 timers. The
first check of a component is spread at random over one interval; later ones come
every interval ± ``jitter`` (10%), so checks never march in step. A semaphore
bounds how many probes run at once; a component's check never overlaps itself
(a run that is still going makes the next one be skipped and counted). Results go
to ``on_result`` one at a time, in the order the checks finish; an ``on_result``
that raises is logged at WARNING and the watching goes on.

``run()`` is ``tick()`` (start what is due) then a sleep until the next due time,
woken early by ``set()`` and ``stop()``; tests drive ``tick()`` with a FakeClock.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import inspect
import itertools
import logging
import math
import random
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from paramedic.catalog.model import HttpCheck
from paramedic.checks.http import is_plain, load_client
from paramedic.checks.registry import probe_for, run_check
from paramedic.checks.result import CheckResult, FailureClass
from paramedic.errors import NotFound

if TYPE_CHECKING:
    import aiohttp
    import httpx

    from paramedic.catalog.model import HealthCheck
    from paramedic.checks.probe import HttpClient
    from paramedic.checks.process import ProcessProbe
    from paramedic.clock import Clock

log = logging.getLogger(__name__)

OnResult = Callable[[str, CheckResult], Awaitable[None] | None]
"""Receives ``(component name, result)``; may be a plain or an async function."""

TICK_S = 0.005
"""Shortest sleep of the loop: checks due within it start together (bounds wake-ups)."""
IDLE_S = 3600.0
"""Sleep when nothing is scheduled; ``set()`` wakes the loop."""


class CheckRunner(Protocol):
    """What runs one check: ``run_check`` in production, a fake in tests."""

    async def __call__(
        self,
        check: HealthCheck,
        *,
        clock: Clock,
        process_probe: ProcessProbe | None = None,
        http: HttpClient | None = None,
    ) -> CheckResult:
        """Run ``check`` once and return its result."""
        ...


@dataclass(frozen=True)
class SchedulerStats:
    """Counters and scheduling lag (scheduled time to actual start, seconds) since creation."""

    components: int
    started: int
    finished: int
    skipped: int
    """Due while the component's previous check was still running."""
    delivery_errors: int
    in_flight: int
    lag_p50_s: float
    lag_p99_s: float
    lag_max_s: float


@dataclass(eq=False)
class _Entry:
    name: str
    check: HealthCheck
    generation: int
    due: float
    running: asyncio.Future[None] | None = field(default=None)
    """Set while a run of this check is going (scheduled or ``check_now``)."""
    task: asyncio.Task[None] | None = field(default=None)
    """The last scheduled run."""


class CheckScheduler:
    """Runs each component's check on its interval with jitter and bounded concurrency."""

    def __init__(
        self,
        clock: Clock,
        concurrency: int,
        on_result: OnResult,
        probe_for: Callable[[str], ProcessProbe | None] | None = None,
        *,
        runner: CheckRunner = run_check,
        rng: random.Random | None = None,
        jitter: float = 0.1,
        lag_capacity: int = 100_000,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if not 0.0 <= jitter < 1.0:
            raise ValueError("jitter must be in [0, 1)")
        self._clock = clock
        self._on_result = on_result
        self._probe_for = probe_for
        self._runner = runner
        self._rng = rng or random.Random()
        self._jitter = jitter
        self._semaphore = asyncio.Semaphore(concurrency)
        self._deliver_lock = asyncio.Lock()
        self._entries: dict[str, _Entry] = {}
        self._heap: list[tuple[float, int, str, int]] = []  # (due, seq, name, generation)
        self._seq = itertools.count()
        self._generations = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._http: dict[bool, httpx.AsyncClient] = {}
        self._plain: aiohttp.ClientSession | None = None
        self._lags: deque[float] = deque(maxlen=lag_capacity)
        self._sleeper: asyncio.Future[None] | None = None
        self._sleep_until = -math.inf
        self._stopping = False
        self._closed = False
        self._started = self._finished = self._skipped = self._delivery_errors = 0

    # ------------------------------------------------------------ the catalog

    def set(self, name: str, check: HealthCheck) -> None:
        """Schedule ``name``'s check, or replace it (an unchanged check keeps its schedule)."""
        entry = self._entries.get(name)
        if entry is not None and entry.check == check:
            return
        probe_for(check.check)  # import its probe now, not on the loop at its first run
        if isinstance(check, HttpCheck):
            load_client(check)
        due = self._clock.monotonic() + self._rng.uniform(0.0, check.interval.total_seconds())
        generation = next(self._generations)
        if entry is None:
            entry = self._entries[name] = _Entry(name, check, generation, due)
        else:  # a run of the old check still going finishes, but its result is dropped
            entry.check, entry.generation, entry.due = check, generation, due
        self._push(entry)
        if due < self._sleep_until:
            self._wake()

    def remove(self, name: str) -> None:
        """Stop checking ``name``; a run in progress is cancelled (no error if unknown)."""
        entry = self._entries.pop(name, None)
        if entry is None:
            return
        if entry.task is not None:
            entry.task.cancel()

    def names(self) -> list[str]:
        """The components being checked, sorted."""
        return sorted(self._entries)

    # ------------------------------------------------------------ running

    async def check_now(self, name: str, *, deliver: bool = True) -> CheckResult:
        """Run ``name``'s check at once, outside the schedule and the concurrency bound.

        Waits first for a run of the same check still going (a check never overlaps
        itself). The result is returned and, unless ``deliver`` is False, also goes to
        ``on_result`` like a scheduled one (so the detector sees every result).
        """
        entry = self._entries.get(name)
        while entry is not None and entry.running is not None:
            await asyncio.wait([entry.running])
            entry = self._entries.get(name)
        if entry is None:
            raise NotFound(f"no health check is scheduled for component {name!r}")
        generation, check = entry.generation, entry.check
        done = self._begin(entry)
        try:
            result = await self._probe(name, check)
        finally:
            self._end(entry, done)
        if deliver and self._current(entry, generation):
            await self._deliver(name, result)
        return result

    def tick(self) -> list[str]:
        """Start every check due now (skipping those still running); returns the names started."""
        started: list[str] = []
        for entry, due in self._due(self._clock.monotonic()):
            done = self._begin(entry)
            task = entry.task = asyncio.create_task(
                self._scheduled(entry, entry.generation, entry.check, due, done),
                name=f"paramedic-check:{entry.name}",
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            # also when the task is cancelled before it ever ran (stop, remove)
            task.add_done_callback(functools.partial(self._end_task, entry, done))
            started.append(entry.name)
        return started

    async def run(self) -> None:
        """Check every component on its schedule until ``stop()``; then cancel runs in progress."""
        try:
            while not self._stopping:
                self.tick()
                if self._stopping:
                    break
                await self._sleep(self._delay())
        finally:
            self._stopping = False
            await self._cancel_all()

    def stop(self) -> None:
        """Make ``run()`` return soon (it cancels the checks still running)."""
        self._stopping = True
        self._wake()

    async def idle(self) -> None:
        """Wait until no scheduled check is running or delivering its result."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def aclose(self) -> None:
        """Stop, cancel what still runs and close the shared HTTP clients."""
        self.stop()
        self._closed = True
        await self._cancel_all()
        clients, self._http = list(self._http.values()), {}
        for client in clients:
            await client.aclose()
        plain, self._plain = self._plain, None
        if plain is not None:
            await plain.close()

    # ------------------------------------------------------------ figures

    def lag_samples(self) -> list[float]:
        """Scheduling lag of recent scheduled runs: actual start minus due time, seconds."""
        return list(self._lags)

    def stats(self) -> SchedulerStats:
        """Counters and lag percentiles (over the kept lag samples)."""
        lags = sorted(self._lags)
        return SchedulerStats(
            components=len(self._entries),
            started=self._started,
            finished=self._finished,
            skipped=self._skipped,
            delivery_errors=self._delivery_errors,
            in_flight=sum(1 for e in self._entries.values() if e.running is not None),
            lag_p50_s=_percentile(lags, 0.50),
            lag_p99_s=_percentile(lags, 0.99),
            lag_max_s=lags[-1] if lags else 0.0,
        )

    # ------------------------------------------------------------ the loop's steps

    def _due(self, now: float) -> list[tuple[_Entry, float]]:
        """Pop what is due at ``now``, schedule its next run, return what may start.

        No I/O and no tasks: the step ``tick()`` and the tests build on.
        """
        ready: list[tuple[_Entry, float]] = []
        while self._heap and self._heap[0][0] <= now:
            due, _, name, generation = heapq.heappop(self._heap)
            entry = self._entries.get(name)
            if entry is None or entry.generation != generation:
                continue  # removed or replaced since it was pushed
            step = entry.check.interval.total_seconds()
            step *= 1.0 + self._rng.uniform(-self._jitter, self._jitter)
            entry.due = due + step if due + step > now else now + step
            self._push(entry)
            if entry.running is not None:
                self._skipped += 1
                log.debug("check of %s skipped: the previous one is still running", name)
                continue
            ready.append((entry, due))
        return ready

    def _delay(self) -> float:
        if not self._heap:
            return IDLE_S
        return max(TICK_S, self._heap[0][0] - self._clock.monotonic())

    async def _sleep(self, delay: float) -> None:
        self._sleep_until = self._clock.monotonic() + delay
        sleeper = self._sleeper = asyncio.ensure_future(self._clock.sleep(delay))
        try:
            await asyncio.wait([sleeper])  # a cancelled sleeper (a wake-up) ends it too
        finally:
            sleeper.cancel()
            self._sleeper = None
            self._sleep_until = -math.inf

    def _wake(self) -> None:
        if self._sleeper is not None and not self._sleeper.done():
            self._sleeper.cancel()

    def _push(self, entry: _Entry) -> None:
        heapq.heappush(self._heap, (entry.due, next(self._seq), entry.name, entry.generation))

    def _begin(self, entry: _Entry) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry.running = done
        return done

    def _end(self, entry: _Entry, done: asyncio.Future[None]) -> None:
        if not done.done():
            done.set_result(None)
        if entry.running is done:
            entry.running = None

    def _end_task(self, entry: _Entry, done: asyncio.Future[None], _: asyncio.Task[None]) -> None:
        self._end(entry, done)

    def _current(self, entry: _Entry, generation: int) -> bool:
        return self._entries.get(entry.name) is entry and entry.generation == generation

    async def _scheduled(
        self,
        entry: _Entry,
        generation: int,
        check: HealthCheck,
        due: float,
        done: asyncio.Future[None],
    ) -> None:
        try:
            async with self._semaphore:
                self._lags.append(self._clock.monotonic() - due)
                self._started += 1
                result = await self._probe(entry.name, check)
        finally:
            self._end(entry, done)
        self._finished += 1
        if self._current(entry, generation):
            await self._deliver(entry.name, result)

    async def _probe(self, name: str, check: HealthCheck) -> CheckResult:
        at, start = self._clock.now(), self._clock.monotonic()
        try:
            probe = None
            if check.check == "process" and self._probe_for is not None:
                probe = self._probe_for(name)
            client = None
            if isinstance(check, HttpCheck) and not self._closed:  # closed: one client per check
                client = self._client(check)
            return await self._runner(check, clock=self._clock, process_probe=probe, http=client)
        except Exception as exc:  # run_check never raises; a fake runner or probe_for might
            log.warning("check of %s failed unexpectedly", name, exc_info=True)
            return CheckResult(
                ok=False,
                at=at,
                duration_s=max(0.0, self._clock.monotonic() - start),
                failure=FailureClass.error,
                detail=f"{check.check} check failed: {type(exc).__name__}: {exc}",
            )

    def _client(self, check: HttpCheck) -> HttpClient:
        """The shared client for ``check``: one aiohttp session for every plain ``http://``
        check, an httpx client per ``verify_tls`` for ``https://`` (each made when first needed)."""
        if is_plain(check):
            if self._plain is None:
                from paramedic.checks.http_plain import new_plain_session

                self._plain = new_plain_session()
            return self._plain
        client = self._http.get(check.verify_tls)
        if client is None:
            from paramedic.checks.http_tls import new_http_client

            client = self._http[check.verify_tls] = new_http_client(verify=check.verify_tls)
        return client

    async def _deliver(self, name: str, result: CheckResult) -> None:
        async with self._deliver_lock:  # FIFO: results arrive in the order checks finished
            try:
                outcome = self._on_result(name, result)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:
                self._delivery_errors += 1
                log.warning("on_result failed for the check result of %s", name, exc_info=True)

    async def _cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, math.floor(fraction * len(ordered)))]
