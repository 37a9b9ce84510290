"""Recovery time benchmark: paramedic vs supervisord vs monit on one small HTTP service.

For each (tool, fault) the benchmark waits until the service answers, lets the tool
settle, waits a random phase of up to one second (so faults land anywhere in the check
cycle), injects the fault, then polls ``GET /`` every 10 ms until a 200 comes from a
*different* pid (the body carries the pid): that interval is the recovery time.

    .venv/bin/python bench/recovery.py [--trials 20] [--peers monit,...] [--faults kill9,...]

Summary: bench/results/recovery.json and recovery.md; tool logs in bench/results/raw/.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from common import (
    RESULTS,
    free_port,
    kill_pid,
    percentile,
    reap_orphans,
    stop_group,
    wait_until,
)
from peers import MONIT, PEERS, SUPERVISORD, Peer

FAULTS = {"kill9": signal.SIGKILL, "hang": signal.SIGSTOP, "exit": signal.SIGUSR1}
"""kill -9; SIGSTOP (a hung process, still holding its port); SIGUSR1 (svc.py exits 0)."""
POLL_EVERY_S = 0.010
POLL_TIMEOUT_S = 0.1
RAW = RESULTS / "raw" / "recovery"


@dataclass
class Row:
    """The trials of one (tool, fault)."""

    peer: str
    fault: str
    times_s: list[float] = field(default_factory=list)
    undetected: int = 0

    def cell(self) -> str:
        """Median / p95 (or why there is none) for the table."""
        if not self.times_s:
            return f"not detected within the trial timeout ({self.undetected} of {self.undetected})"
        text = f"{percentile(self.times_s, 0.5):.2f} / {percentile(self.times_s, 0.95):.2f}"
        text += f" (n={len(self.times_s)})"
        return text + (f", {self.undetected} not detected" if self.undetected else "")


def serving_pid(port: int) -> int | None:
    """The pid in the body of a 200 answer to GET /, or None (refused, timeout, other)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=POLL_TIMEOUT_S)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        body = response.read().decode()
        if response.status == 200 and body.startswith("ok "):
            return int(body.split()[1])
    except (OSError, http.client.HTTPException, ValueError):
        return None
    finally:
        conn.close()
    return None


def one_trial(port: int, fault: str, timeout_s: float, settle_s: float) -> float | None:
    """Inject ``fault`` into the serving process; seconds until another pid serves, or None."""
    if not wait_until(60.0, 0.05, lambda: serving_pid(port) is not None):
        raise RuntimeError(f"the service on port {port} never answered; see {RAW}")
    time.sleep(settle_s + random.uniform(0.0, 1.0))
    pid = serving_pid(port)
    if pid is None:
        raise RuntimeError(f"the service on port {port} stopped answering before the fault")
    start = time.monotonic()
    try:
        os.kill(pid, FAULTS[fault])
        while time.monotonic() - start < timeout_s:
            now = serving_pid(port)
            if now is not None and now != pid:
                return time.monotonic() - start
            time.sleep(POLL_EVERY_S)
        return None
    finally:
        if fault == "hang":
            kill_pid(pid)  # resume/kill the stopped one whatever happened


def run_row(peer: Peer, fault: str, args: argparse.Namespace) -> Row:
    """All trials of one (tool, fault), restarting the tool every ``peer.batch`` trials."""
    row = Row(peer.name, fault)
    done = 0
    while done < args.trials:
        work = RAW / f"{peer.name.replace(' ', '-')}-{fault}-{done}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        port = free_port()
        tool = peer.start(work, port)
        try:
            for _ in range(min(peer.batch, args.trials - done)):
                seconds = one_trial(port, fault, args.timeout, args.settle)
                done += 1
                if seconds is None:
                    row.undetected += 1
                else:
                    row.times_s.append(seconds)
                print(f"  {peer.name:16} {fault:6} trial {done:2}: {seconds}", flush=True)
                if not row.times_s and row.undetected >= args.give_up_after:
                    return row  # never detected: more trials would only repeat the timeout
        finally:
            stop_group(tool)
            starts = work / "svc" / "starts"
            for pid in starts.read_text().split() if starts.exists() else []:
                kill_pid(int(pid))
    return row


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    monit = _version([MONIT, "-V"]).split("\n")[0]
    supervisord = _version([str(SUPERVISORD), "--version"])
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{os.cpu_count()} cores, {model} (shared)",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "monit": monit,
        "supervisord": supervisord,
    }


def _version(argv: list[str]) -> str:
    """A peer's version line; "not installed" when it is missing (a run that did not use it)."""
    try:
        return subprocess.run(argv, capture_output=True, text=True).stdout.strip()
    except FileNotFoundError:
        return "not installed"


def table(rows: list[Row]) -> str:
    """Markdown: one line per tool, one column per fault, median / p95 seconds."""
    faults = list(dict.fromkeys(r.fault for r in rows))
    lines = ["| tool | " + " | ".join(faults) + " |", "|---|" + "---|" * len(faults)]
    for peer in dict.fromkeys(r.peer for r in rows):
        cells = {r.fault: r.cell() for r in rows if r.peer == peer}
        lines.append(f"| {peer} | " + " | ".join(cells.get(f, "-") for f in faults) + " |")
    return "\n".join(lines)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """Run the trials and write the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=20.0, help="trial timeout, seconds")
    parser.add_argument("--settle", type=float, default=2.0, help="pause before each fault")
    parser.add_argument("--give-up-after", type=int, default=2, help="undetected trials")
    parser.add_argument("--peers", default=",".join(p.name for p in PEERS))
    parser.add_argument("--faults", default=",".join(FAULTS))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    reap_orphans()
    peers = [p for p in PEERS if p.name in args.peers.split(",")]
    rows: list[Row] = []
    try:
        for peer in peers:
            for fault in args.faults.split(","):
                rows.append(run_row(peer, fault, args))
    except (KeyboardInterrupt, RuntimeError) as exc:
        print(f"stopped early ({exc!r}): every process was stopped; partial results follow")
    summary = {"machine": machine(), "args": vars(args), "rows": [asdict(r) for r in rows]}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "recovery.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = table(rows)
    (RESULTS / "recovery.md").write_text(text + "\n")
    print(json.dumps(summary["machine"], indent=2))
    print(text)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
