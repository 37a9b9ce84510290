"""Check capacity: one paramedic agent watching N components with HTTP checks every 10 s.

Roles (one process each, so CPU and memory are measured per process):
  run           orchestrates: starts the HTTP server(s), then for each size each role in turn
  server        a minimal HTTP server on loopback answering 200 and closing
  agent         paramedic's Agent (in process, real catalog, SQLite store) for warm-up + window
  bare-httpx    a bare asyncio loop + one httpx client doing the same checks at the same rate
  bare-aiohttp  the same bare loop with one aiohttp session (the agent's plain http:// client)

    .venv/bin/python bench/capacity.py run [--sizes 10000,20000,50000] [--window 60]
        [--roles agent,bare-httpx,bare-aiohttp] [--loop uvloop|asyncio] [--profile|--py-spy]

Every role runs on the same event loop (``--loop``, uvloop by default, as ``paramedic run``).
A child measures itself over the window (after a warm-up of one interval): checks
finished per second, scheduling lag (start minus due time, after the concurrency
semaphore, as the scheduler defines it), CPU seconds from /proc/self/stat (all
threads), and VmHWM; the agent also its startup (catalog load to every check scheduled).
Summary: bench/results/OUT.json and OUT.md (``--out``, default capacity).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from common import PYTHON, RESULTS, cpu_seconds, free_port, peak_rss_mb, percentile, stop_group

if TYPE_CHECKING:
    from paramedic.agent import Agent
    from paramedic.checks.result import CheckResult

INTERVAL_S = 10.0
BARE = ("bare-httpx", "bare-aiohttp")
RAW = RESULTS / "raw" / "capacity"
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"


# ---------------------------------------------------------------- server


class _Answer(asyncio.Protocol):
    """Answers 200 once the request head has arrived, then closes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport instances, but have the same methods
        self.transport = cast(asyncio.Transport, transport)
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if b"\r\n\r\n" in self.buffer:
            self.transport.write(RESPONSE)
            self.transport.close()


def run_loop(main: Any, loop: str) -> Any:
    """Run ``main`` on uvloop or on asyncio's own loop, as ``--loop`` says."""
    if loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)
    return asyncio.run(main)


async def serve(port: int) -> None:
    """Serve on 127.0.0.1:``port`` (SO_REUSEPORT, so several processes may share it)."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Answer, "127.0.0.1", port, reuse_port=True, backlog=4096)
    async with server:
        await server.serve_forever()


# ---------------------------------------------------------------- measured children


def catalog_text(n: int, port: int, concurrency: int = 256) -> str:
    """A catalog of ``n`` components driven (not owned) by the process provider."""
    head = "version: 1\nlocation: bench\nstate: sqlite:///paramedic.db\n"
    head += f"agent: {{run_dir: ./var/run, log_dir: ./var/log, check_concurrency: {concurrency}}}\n"
    head += "components:\n"
    block = (
        "  c{i:05d}:\n    type: application_server\n    rto: 5m\n    rpo: 0s\n"
        '    provider: process\n    spec: {{restart_command: ["true"]}}\n'
        '    health: {{check: http, url: "http://127.0.0.1:{port}/c{i:05d}", '
        "interval: 10s, timeout: 2s, failures: 2}}\n"
        "    recovery: [{{strategy: restart_service}}]\n"
    )
    return head + "".join(block.format(i=i, port=port) for i in range(n))


class Window:
    """CPU, counters and lag samples between the end of the warm-up and the end of the window."""

    def __init__(self) -> None:
        self.cpu0 = cpu_seconds(os.getpid())
        self.t0 = time.monotonic()

    def result(self, checks: int, lags: list[float], **extra: Any) -> dict[str, Any]:
        """The figures of the window; ``checks`` finished in it, ``lags`` of the checks started."""
        seconds = time.monotonic() - self.t0
        cpu = cpu_seconds(os.getpid()) - self.cpu0
        return {
            "window_s": round(seconds, 1),
            "checks": checks,
            "checks_per_s": checks / seconds,
            "lag_p50_s": percentile(lags, 0.50),
            "lag_p99_s": percentile(lags, 0.99),
            "lag_max_s": max(lags, default=float("nan")),
            "cpu_s": cpu,
            "cpu_s_per_1000_checks": 1000 * cpu / checks if checks else float("nan"),
            "peak_rss_mb": peak_rss_mb(os.getpid()),
            **extra,
        }


def load_agent(args: argparse.Namespace) -> tuple[Agent, float]:
    """Write and load the catalog; build the Agent (seconds it took are part of the startup)."""
    imported = time.monotonic()
    from paramedic.agent import Agent  # here only: the bare loops must not carry its imports
    from paramedic.catalog.loader import load_catalog

    args.import_s = time.monotonic() - imported
    work = Path(args.work)
    (work / "paramedic.yaml").write_text(catalog_text(args.n, args.port, args.concurrency))
    start = time.monotonic()
    agent = Agent(load_catalog(work / "paramedic.yaml"), decision_stream=sys.stderr)
    args.load_s = time.monotonic() - start
    return agent, args.load_s


async def profiled(args: argparse.Namespace) -> str | None:
    """Sleep through the window, under cProfile with ``--profile`` (top costs as text) or
    sampled by py-spy with ``--py-spy`` (collapsed stacks in ``py-spy.txt``)."""
    if args.py_spy:
        spy = subprocess.Popen(  # noqa: ASYNC220  # once, at the start of the window
            [str(PYTHON.parent / "py-spy"), "record", "--pid", str(os.getpid()), "--rate", "200",
             "--duration", str(int(args.window)), "--format", "raw", "--nonblocking",
             "-o", str(Path(args.work) / "py-spy.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        await asyncio.sleep(args.window)
        await asyncio.to_thread(spy.wait, 30)
        return None
    if not args.profile:
        await asyncio.sleep(args.window)
        return None
    profile = cProfile.Profile()
    profile.enable()
    await asyncio.sleep(args.window)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(25)
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(40)
    return out.getvalue()


async def measure_agent(args: argparse.Namespace, agent: Agent, load_s: float) -> dict[str, Any]:
    """Run paramedic's Agent on a generated catalog; measure after one interval of warm-up."""
    failed = [0]
    on_result = agent.watching.on_result

    async def counting(name: str, result: CheckResult) -> None:
        failed[0] += not result.ok
        await on_result(name, result)

    agent.watching.on_result = counting  # type: ignore[method-assign]  # count failed checks too
    loaded = time.monotonic()
    running = asyncio.create_task(agent.run())
    # the Agent has no "started" event to wait on: poll until its scheduler holds every check
    while agent.scheduler is None or len(agent.scheduler.names()) < args.n:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    startup_s = load_s + time.monotonic() - loaded
    await asyncio.sleep(INTERVAL_S)
    scheduler = agent.scheduler
    before, failed_before = scheduler.stats(), failed[0]
    window = Window()
    profile = await profiled(args)
    after = scheduler.stats()
    started = after.started - before.started
    lags = scheduler.lag_samples()[-started:] if started else []
    result = window.result(
        after.finished - before.finished,
        lags,
        failed=failed[0] - failed_before,
        skipped=after.skipped - before.skipped,
        startup_s=round(startup_s, 2),
        catalog_load_s=round(args.load_s, 2),
        import_s=round(args.import_s, 2),
    )
    result["profile"] = profile
    agent.stop()
    await running
    return result


async def measure_bare(args: argparse.Namespace) -> dict[str, Any]:
    """The same checks with nothing but asyncio, a semaphore and one shared client."""
    get, close = bare_client(args.role)
    semaphore = asyncio.Semaphore(args.concurrency)
    lags: list[float] = []
    finished, failed = [0], [0]
    loop = asyncio.get_running_loop()

    async def watch(i: int) -> None:
        url = f"http://127.0.0.1:{args.port}/c{i:05d}"
        due = loop.time() + random.uniform(0.0, INTERVAL_S)
        while True:
            await asyncio.sleep(max(0.0, due - loop.time()))
            async with semaphore:
                lags.append(loop.time() - due)
                try:
                    async with asyncio.timeout(2.0):
                        ok = await get(url) == 200
                except Exception:
                    ok = False
            finished[0] += 1
            failed[0] += not ok
            due += INTERVAL_S

    tasks = [asyncio.create_task(watch(i)) for i in range(args.n)]
    await asyncio.sleep(INTERVAL_S)
    seen, done_before, failed_before = len(lags), finished[0], failed[0]
    window = Window()
    profile = await profiled(args)
    result = window.result(
        finished[0] - done_before,
        lags[seen:],
        failed=failed[0] - failed_before,
        skipped=0,
        startup_s=0.0,
    )
    result["profile"] = profile
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await close()
    return result


def bare_client(role: str) -> tuple[Any, Any]:
    """``(get(url) -> status, close())`` of the role's one shared client, set as paramedic's:
    a fresh connection per check, no connection limit (the semaphore bounds concurrency)."""
    if role == "bare-httpx":
        import httpx

        client = httpx.AsyncClient(
            trust_env=False, limits=httpx.Limits(max_connections=None, max_keepalive_connections=0)
        )

        async def get_httpx(url: str) -> int:
            return (await client.get(url, timeout=2.0)).status_code

        return get_httpx, client.aclose
    import aiohttp

    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, force_close=True),
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
    )

    async def get_aiohttp(url: str) -> int:
        async with session.get(url, allow_redirects=False) as response:
            return response.status

    return get_aiohttp, session.close


# ---------------------------------------------------------------- orchestration


def child(role: str, n: int, port: int, args: argparse.Namespace) -> dict[str, Any]:
    """Run one measured child to completion and return what it wrote."""
    work = RAW / f"{role}-{n}"
    work.mkdir(parents=True, exist_ok=True)
    for stale in work.glob("paramedic.db*"):
        stale.unlink()
    out = work / "result.json"
    argv = [str(PYTHON), __file__, role, f"--n={n}", f"--port={port}", f"--work={work}"]
    argv += [f"--window={args.window}", f"--loop={args.loop}", f"--concurrency={args.concurrency}"]
    argv += (["--profile"] if args.profile else []) + (["--py-spy"] if args.py_spy else [])
    with (work / "log.txt").open("wb") as log:
        process = subprocess.Popen(
            argv, cwd=work, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            process.wait(args.window + 600)
        finally:
            stop_group(process)
    if not out.exists():
        raise RuntimeError(f"the {role} child for {n} components wrote no result; see {work}")
    return dict(json.loads(out.read_text()))


def orchestrate(args: argparse.Namespace) -> int:
    """Start the server(s), measure each size with the agent then the baseline, write a table."""
    port = free_port()
    servers = [
        subprocess.Popen(
            [str(PYTHON), __file__, "server", f"--port={port}", f"--loop={args.loop}"],
            start_new_session=True,
        )
        for _ in range(args.servers)
    ]
    rows: list[dict[str, Any]] = []
    try:
        time.sleep(1.0)
        for n in (int(s) for s in args.sizes.split(",")):
            for role in args.roles.split(","):
                server_cpu0 = sum(cpu_seconds(s.pid) for s in servers)
                row = {"role": role, "components": n, **child(role, n, port, args)}
                row["server_cpu_s"] = sum(cpu_seconds(s.pid) for s in servers) - server_cpu0
                print(json.dumps(row), flush=True)
                rows.append(row)
    except KeyboardInterrupt:
        print("interrupted: every process was stopped; partial results follow", file=sys.stderr)
    finally:
        for server in servers:
            stop_group(server, grace=2.0)
    for r in rows:
        for kind in ("profile", "py-spy"):
            profile = RAW / f"{r['role']}-{r['components']}" / f"{kind}.txt"
            if (args.profile or args.py_spy) and profile.exists():
                name = f"{args.out}-{r['role']}-{r['components']}-{kind}.txt"
                (RESULTS / name).write_text(profile.read_text())
    (RESULTS / f"{args.out}.json").write_text(
        json.dumps({"args": vars(args), "rows": rows}, indent=2) + "\n"
    )
    lines = table(rows)
    (RESULTS / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The Markdown table: one row per (size, role); CPU also as a multiple of the bare loop
    with the same client (the agent's plain http:// checks go through aiohttp)."""
    bare = {(r["components"], r["role"]): r["cpu_s_per_1000_checks"] for r in rows}
    lines = [
        "| components | role | checks/s (target) | lag p50 / p99 (s) | CPU s per 1,000 checks "
        "(× bare-aiohttp) | peak RSS (MB) | false failures | skipped | startup (s) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        same = bare.get((r["components"], "bare-aiohttp"))
        ratio = f" ({r['cpu_s_per_1000_checks'] / same:.2f}×)" if same else ""
        startup = f"{r['startup_s']:.1f}" if r["role"] == "agent" else "-"
        lines.append(
            f"| {r['components']:,} | {r['role']} | {r['checks_per_s']:.0f} "
            f"({r['components'] / INTERVAL_S:.0f}) | {r['lag_p50_s']:.3f} / {r['lag_p99_s']:.3f} "
            f"| {r['cpu_s_per_1000_checks']:.2f}{ratio} | {r['peak_rss_mb']:.0f} | {r['failed']} "
            f"| {r['skipped']} | {startup} |"
        )
    return lines


def main() -> int:
    """Dispatch on the role."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("role", choices=["run", "server", "agent", *BARE])
    parser.add_argument("--sizes", default="10000,20000,50000")
    parser.add_argument("--roles", default="agent,bare-httpx,bare-aiohttp")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument(
        "--concurrency", type=int, default=256, help="checks at once (agent.check_concurrency)"
    )
    parser.add_argument("--servers", type=int, default=1, help="HTTP server processes")
    parser.add_argument("--window", type=float, default=60.0, help="measured seconds")
    parser.add_argument("--profile", action="store_true", help="cProfile each child's window")
    parser.add_argument("--py-spy", action="store_true", help="py-spy each child's window")
    parser.add_argument("--out", default="capacity", help="name of the summary files")
    parser.add_argument("--n", type=int, default=0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--work", default=".")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    if args.role == "run":
        RAW.mkdir(parents=True, exist_ok=True)
        return orchestrate(args)
    if args.role == "server":
        run_loop(serve(args.port), args.loop)
        return 0
    if args.role == "agent":
        agent, load_s = load_agent(args)
        result = run_loop(measure_agent(args, agent, load_s), args.loop)
    else:
        result = run_loop(measure_bare(args), args.loop)
    profile = result.pop("profile", None)
    if profile is not None:
        (Path(args.work) / "profile.txt").write_text(profile)
    (Path(args.work) / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
