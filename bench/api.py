"""The HTTP API at 10,000 components: request latency while checks run, the API's CPU cost.

Roles (one process each):
  run     orchestrates: the capacity bench's HTTP server, then two real ``paramedic run``
          agents on its 10,000-component catalog, one after the other: one without
          ``--listen``, one with it; the client below drives the second
  client  sends GETs to the agent's API at a fixed rate for a bounded time (loopback only)
          and writes every request's latency

    .venv/bin/python bench/api.py run [--components 10000] [--window 30] [--rounds 2]
        [--rate 15] [--metrics-every 15] [--scrapes 5] [--out api]

Method (bench/README.md, section (f)): each agent is started on a fresh SQLite store and
measured once every component has had a first check and ``--settle`` seconds more have
passed. A window is cut at the agent's once-a-second check flush (the store's
``checks_total`` sum changes), so the checks counted and the CPU read (``/proc/PID/stat``,
all threads) cover the same span. Windows of ``--window`` seconds, ``--rounds`` times:
``no-listen`` (agent without ``--listen``), then ``idle`` (API listening, no request) and
``load`` (the client running) alternately in the second agent, ``--settle`` seconds
apart after a load window (an agent that fell behind catches up at a higher cost per
check, which would count against the next idle window). Last, ``--scrapes``
sequential ``/metrics`` scrapes. Summary: bench/results/OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from capacity import INTERVAL_S, catalog_text
from common import PYTHON, RESULTS, cpu_seconds, free_port, percentile, stop_group

RAW = RESULTS / "raw" / "api"
CAPACITY = Path(__file__).resolve().parent / "capacity.py"
KINDS = ("components", "components_after", "components_after", "incidents")
"""The client's request cycle: a first page, two later pages, the incidents."""
PATHS = {
    "components": "/api/v1/components?limit=100",
    "components_after": "/api/v1/components?limit=100&after={after}",
    "incidents": "/api/v1/incidents?limit=100",
    "metrics": "/metrics",
}
REQUEST_TIMEOUT_S = 30.0


# ---------------------------------------------------------------- client


async def drive(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Open loop: request i starts at ``i / rate`` whatever the earlier ones do, so a slow
    answer delays no later request (queueing in the agent shows as latency); /metrics
    every ``--metrics-every`` seconds besides. Bounded: ``rate * duration`` requests."""
    import aiohttp

    rng = random.Random(args.seed)
    names = [f"c{i:05d}" for i in range(args.n)]
    plan: list[tuple[float, str, str]] = []
    for i in range(int(args.rate * args.duration)):
        kind = KINDS[i % len(KINDS)]
        plan.append((i / args.rate, kind, PATHS[kind].format(after=rng.choice(names))))
    if args.metrics_every > 0:
        at = args.metrics_every / 2
        while at < args.duration:
            plan.append((at, "metrics", PATHS["metrics"]))
            at += args.metrics_every
    plan.sort()
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(args.base, timeout=timeout, trust_env=False) as session:
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def one(at: float, kind: str, path: str) -> dict[str, Any]:
            await asyncio.sleep(max(0.0, start + at - loop.time()))
            sent = loop.time()
            try:
                async with session.get(path) as response:
                    body = await response.read()
                    status = response.status
            except (TimeoutError, aiohttp.ClientError) as exc:
                body, status = str(exc).encode(), 0
            took = loop.time() - sent
            return {"kind": kind, "status": status, "latency_s": took, "bytes": len(body)}

        return list(await asyncio.gather(*(one(*p) for p in plan)))


def client(args: argparse.Namespace) -> int:
    """Run the client role; its records go to ``--work``/requests.json."""
    if not args.base.startswith(("http://127.", "http://localhost")):
        raise SystemExit(f"--base {args.base}: this benchmark sends requests to loopback only")
    records = asyncio.run(drive(args))
    (Path(args.work) / "requests.json").write_text(json.dumps(records) + "\n")
    return 0


def latencies(records: list[dict[str, Any]], kinds: tuple[str, ...]) -> dict[str, Any]:
    """Count, errors and latency percentiles (seconds) of the records of ``kinds``."""
    mine = [r for r in records if r["kind"] in kinds]
    ok = [r["latency_s"] for r in mine if r["status"] == 200]
    return {
        "requests": len(mine),
        "errors": len(mine) - len(ok),
        "p50_s": percentile(ok, 0.50),
        "p95_s": percentile(ok, 0.95),
        "p99_s": percentile(ok, 0.99),
        "max_s": max(ok, default=float("nan")),
        "bytes_mean": sum(r["bytes"] for r in mine) / len(mine) if mine else 0,
    }


# ---------------------------------------------------------------- the agent, from outside


class Agent:
    """One ``paramedic run`` on a fresh work folder, read from outside: /proc and its store."""

    def __init__(self, work: Path, n: int, port: int, api_port: int | None) -> None:
        work.mkdir(parents=True, exist_ok=True)
        for stale in work.glob("paramedic.db*"):
            stale.unlink()
        (work / "paramedic.yaml").write_text(catalog_text(n, port))
        self.work, self.n = work, n
        self.base = f"http://127.0.0.1:{api_port}" if api_port else None
        listen = ["--listen", f"127.0.0.1:{api_port}"] if api_port else []
        self.started = time.monotonic()
        with (work / "agent.log").open("wb") as log:
            self.process = subprocess.Popen(
                [str(PYTHON), "-m", "paramedic.cli", "run", "paramedic.yaml", *listen],
                cwd=work,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def totals(self) -> tuple[int, int, int] | None:
        """(components checked at least once, checks, failed checks) as the store has them."""
        db = self.work / "paramedic.db"
        if not db.exists():
            return None
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
                row = conn.execute(
                    "SELECT count(last_check_at), coalesce(sum(checks_total), 0),"
                    " coalesce(sum(failures_total), 0) FROM components"
                ).fetchone()
        except sqlite3.OperationalError:  # not created or not migrated yet
            return None
        return int(row[0]), int(row[1]), int(row[2])

    def alive(self) -> None:
        """Raise when the agent has exited."""
        if self.process.poll() is not None:
            raise RuntimeError(f"the agent exited with {self.process.returncode}; see {self.work}")

    def steady(self, settle_s: float, limit_s: float = 600.0) -> float:
        """Wait until every component has had a first check, then ``settle_s``; returns the
        seconds from start to every component checked."""
        end = time.monotonic() + limit_s
        while time.monotonic() < end:
            self.alive()
            totals = self.totals()
            if totals is not None and totals[0] >= self.n:
                checked = time.monotonic() - self.started
                time.sleep(settle_s)
                return checked
            time.sleep(0.5)
        raise RuntimeError(f"not every component was checked within {limit_s:.0f}s; {self.work}")

    def flush(self) -> tuple[float, float, int, int]:
        """Wait for the next check flush: (monotonic time, agent CPU s, checks, failed)."""
        first = self.totals()
        assert first is not None
        end = time.monotonic() + 10.0
        while time.monotonic() < end:
            time.sleep(0.05)
            now = self.totals()
            if now is not None and now[1] != first[1]:
                return time.monotonic(), cpu_seconds(self.process.pid), now[1], now[2]
        raise RuntimeError(f"the agent flushed no check for 10s; see {self.work}")

    def window(
        self, name: str, seconds: float, load: subprocess.Popen[bytes] | None = None
    ) -> dict[str, Any]:
        """One measured window (cut at flushes); ``load``: a client that runs meanwhile."""
        t0, cpu0, checks0, failed0 = self.flush()
        time.sleep(max(0.0, seconds - 1.0))
        if load is not None:
            load.wait(seconds + REQUEST_TIMEOUT_S + 30)
        t1, cpu1, checks1, failed1 = self.flush()
        checks = checks1 - checks0
        cpu = cpu1 - cpu0
        return {
            "window": name,
            "window_s": round(t1 - t0, 2),
            "checks": checks,
            "checks_per_s": checks / (t1 - t0),
            "cpu_s": cpu,
            "cpu_cores": cpu / (t1 - t0),
            "cpu_s_per_1000_checks": 1000 * cpu / checks if checks else float("nan"),
            "false_failures": failed1 - failed0,
        }

    def scrape(self) -> dict[str, Any]:
        """One /metrics scrape: seconds, bytes, series."""
        assert self.base is not None
        sent = time.monotonic()
        with urllib.request.urlopen(
            self.base + "/metrics", timeout=120
        ) as response:  # loopback only
            body = response.read()
        took = time.monotonic() - sent
        series = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
        return {"seconds": took, "bytes": len(body), "series": series}

    def stop(self) -> None:
        """SIGTERM, then SIGKILL of its group."""
        stop_group(self.process, grace=20.0)


# ---------------------------------------------------------------- orchestration


def start_client(args: argparse.Namespace, base: str, work: Path) -> subprocess.Popen[bytes]:
    """The client role, as its own process, for one load window."""
    argv = [str(PYTHON), __file__, "client", f"--base={base}", f"--work={work}"]
    argv += [f"--n={args.components}", f"--rate={args.rate}", f"--duration={args.window}"]
    argv += [f"--metrics-every={args.metrics_every}", f"--seed={args.seed}"]
    with (work / "client.log").open("ab") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def measure(args: argparse.Namespace, port: int) -> dict[str, Any]:
    """Both agents, one after the other; every window and request record."""
    n = args.components
    windows: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    scrapes: list[dict[str, Any]] = []
    startup: dict[str, float] = {}
    agent = Agent(RAW / "no-listen", n, port, None)
    try:
        startup["no-listen"] = agent.steady(args.settle)
        for _ in range(args.rounds):
            windows.append(agent.window("no-listen", args.window))
    finally:
        agent.stop()
    work = RAW / "listen"
    agent = Agent(work, n, port, free_port())
    try:
        startup["listen"] = agent.steady(args.settle)
        for _ in range(args.rounds):
            windows.append(agent.window("idle", args.window))
            (work / "requests.json").unlink(missing_ok=True)
            assert agent.base is not None
            load = start_client(args, agent.base, work)
            try:
                windows.append(agent.window("load", args.window, load))
            finally:
                stop_group(load, grace=2.0)
            records += json.loads((work / "requests.json").read_text())
            time.sleep(args.settle)  # a loaded agent falls behind: let it catch up first
        scrapes = [agent.scrape() for _ in range(args.scrapes)]
    finally:
        agent.stop()
    return {"windows": windows, "requests": records, "scrapes": scrapes, "startup_s": startup}


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """Per-window-kind means, the API's share of the checks' CPU, latencies per kind."""
    kinds: dict[str, dict[str, float]] = {}
    for name in ("no-listen", "idle", "load"):
        mine = [w for w in result["windows"] if w["window"] == name]
        checks = sum(w["checks"] for w in mine)
        cpu = sum(w["cpu_s"] for w in mine)
        seconds = sum(w["window_s"] for w in mine)
        kinds[name] = {
            "windows": len(mine),
            "checks_per_s": checks / seconds,
            "cpu_cores": cpu / seconds,
            "cpu_s_per_1000_checks": 1000 * cpu / checks,
            "false_failures": sum(w["false_failures"] for w in mine),
        }
    base = kinds["no-listen"]["cpu_s_per_1000_checks"]
    records = result["requests"]
    return {
        "by_window": kinds,
        "api_adds_pct": {
            k: 100 * (kinds[k]["cpu_s_per_1000_checks"] / base - 1) for k in ("idle", "load")
        },
        "load_vs_idle_pct": 100
        * (kinds["load"]["cpu_s_per_1000_checks"] / kinds["idle"]["cpu_s_per_1000_checks"] - 1),
        "latency": {
            "components (first + after)": latencies(records, ("components", "components_after")),
            "components first page": latencies(records, ("components",)),
            "components after=": latencies(records, ("components_after",)),
            "incidents": latencies(records, ("incidents",)),
            "metrics (in the load)": latencies(records, ("metrics",)),
        },
        "scrapes": result["scrapes"],
    }


def table(s: dict[str, Any], args: argparse.Namespace) -> list[str]:
    """The Markdown tables of the summary."""
    ms = 1000.0
    lines = [
        f"Requests at {args.rate:g}/s for {args.window:g} s per load window "
        f"(cycle: {', '.join(KINDS)}; /metrics every {args.metrics_every:g} s besides):",
        "",
        "| request | n | errors | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | bytes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, lat in s["latency"].items():
        lines.append(
            f"| {name} | {lat['requests']} | {lat['errors']} | {lat['p50_s'] * ms:.0f} "
            f"| {lat['p95_s'] * ms:.0f} | {lat['p99_s'] * ms:.0f} | {lat['max_s'] * ms:.0f} "
            f"| {lat['bytes_mean']:,.0f} |"
        )
    lines += [
        "",
        "| agent | windows | checks/s | CPU (cores) | CPU s per 1,000 checks | vs no --listen "
        "| false failures |",
        "|---|---|---|---|---|---|---|",
    ]
    labels = {"no-listen": "no --listen", "idle": "--listen, idle", "load": "--listen, load"}
    for name, w in s["by_window"].items():
        added = s["api_adds_pct"].get(name)
        vs = f"{added:+.1f} %" if added is not None else "-"
        lines.append(
            f"| {labels[name]} | {w['windows']:.0f} | {w['checks_per_s']:.0f} "
            f"| {w['cpu_cores']:.2f} | {w['cpu_s_per_1000_checks']:.3f} | {vs} "
            f"| {w['false_failures']:.0f} |"
        )
    lines += [
        "",
        f"Under load the agent's CPU per 1,000 checks is {s['load_vs_idle_pct']:+.1f} % of the "
        "same agent's with the API idle (alternating windows, one process).",
    ]
    times = ", ".join(f"{x['seconds']:.2f}" for x in s["scrapes"])
    if s["scrapes"]:
        first = s["scrapes"][0]
        lines += [
            "",
            f"/metrics, {len(s['scrapes'])} sequential scrapes after the load: {times} s "
            f"({first['bytes']:,} bytes, {first['series']:,} series)",
        ]
    return lines


def orchestrate(args: argparse.Namespace) -> int:
    """Start the capacity bench's server, measure, write the summary."""
    RAW.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = subprocess.Popen(
        [str(PYTHON), str(CAPACITY), "server", f"--port={port}"], start_new_session=True
    )
    try:
        time.sleep(1.0)
        result = measure(args, port)
    finally:
        stop_group(server, grace=2.0)
    s = summary(result)
    (RESULTS / f"{args.out}.json").write_text(
        json.dumps({"args": vars(args), "summary": s, **result}, indent=2) + "\n"
    )
    lines = table(s, args)
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def main() -> int:
    """Dispatch on the role."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("role", choices=["run", "client"])
    parser.add_argument("--components", type=int, default=10_000)
    parser.add_argument("--window", type=float, default=30.0, help="seconds per window")
    parser.add_argument("--rounds", type=int, default=2, help="windows of each kind")
    parser.add_argument("--settle", type=float, default=INTERVAL_S, help="after the first checks")
    parser.add_argument("--rate", type=float, default=15.0, help="API requests per second")
    parser.add_argument("--metrics-every", type=float, default=15.0, help="s between scrapes")
    parser.add_argument("--scrapes", type=int, default=5, help="/metrics scrapes at the end")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="api", help="name of the summary files")
    parser.add_argument("--base", default="", help="client: the API's base URL")
    parser.add_argument("--n", type=int, default=10_000, help="client: components")
    parser.add_argument("--duration", type=float, default=30.0, help="client: seconds")
    parser.add_argument("--work", default=".")
    args = parser.parse_args()
    if args.rate <= 0 or args.window < 5 or args.rounds < 1:
        parser.error("--rate must be > 0, --window >= 5 and --rounds >= 1")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    return orchestrate(args) if args.role == "run" else client(args)


if __name__ == "__main__":
    sys.exit(main())
