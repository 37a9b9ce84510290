"""Point-in-time restore benchmark: paramedic's two PostgreSQL engines, pgBackRest by hand, and
the floor (copying the base backup + replaying the same WAL), on one pgbench database.

    .venv/bin/python bench/restore.py [--scale 70] [--trials 3] [--pgbench-seconds 30]

One scratch folder (removed afterwards, whatever happens) holds one cluster on a free loopback
port, run as the unprivileged ``postgres`` user; ``pgbench -i -s SCALE`` fills it (70: ~1 GB),
both engines back it up, ``pgbench -T`` writes WAL past both backups, and every method restores
to the same target (2 s before pgbench ended). Trials are interleaved (round r runs the methods
in an order rotated by r) and each starts after ``sync``, from identical archives.

Summary: bench/results/restore.json and restore.md. See bench/RESTORE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

from restore_methods import (
    Trial,
    floor_copy,
    floor_replay,
    paramedic_restore,
    pgbackrest_by_hand,
)
from restore_site import BENCH, Site, build_site, keep_logs, machine, say

RESULTS = BENCH / "results"
METHODS = (
    "paramedic pg_basebackup",
    "paramedic pgbackrest",
    "pgBackRest by hand",
    "pgBackRest by hand (process-max 2)",
    "pgBackRest by hand (async archive-get)",
    "floor",
)
BUILT_IN_VS_PGBACKREST = 1.2
VS_FLOOR = 1.5


def run_method(site: Site, method: str, trial: int) -> list[Trial]:
    """One trial of ``method`` (the floor gives two: the copy and the replay)."""
    subprocess.run(["sync"], check=True)
    site.reset_archives()
    try:
        if method == "paramedic pg_basebackup":
            return [asyncio.run(paramedic_restore(site, "pg_basebackup", trial))]
        if method == "paramedic pgbackrest":
            return [asyncio.run(paramedic_restore(site, "pgbackrest", trial))]
        if method == "pgBackRest by hand":
            return [pgbackrest_by_hand(site, trial)]
        if method == "pgBackRest by hand (process-max 2)":
            return [pgbackrest_by_hand(site, trial, process_max=2)]
        if method == "pgBackRest by hand (async archive-get)":
            return [pgbackrest_by_hand(site, trial, process_max=2, async_get=True)]
        copied, copy = floor_copy(site, trial)
        return [copied, floor_replay(site, copy)]
    finally:
        site.stop_all()
        site.reset_archives()


def summarise(trials: list[Trial]) -> dict[str, Any]:
    """Median seconds per method, the floor, phase medians and the goals."""
    by: dict[str, list[Trial]] = {}
    for trial in trials:
        by.setdefault(trial.method, []).append(trial)
    rows: dict[str, Any] = {}
    for method, done in by.items():
        phases: dict[str, float] = {}
        for label in done[0].phases:
            phases[label] = round(statistics.median(t.phases.get(label, 0.0) for t in done), 2)
        server_log: dict[str, float] = {}
        for key in ("before_redo_s", "redo_s", "after_redo_s", "redo_mb"):
            seen = [t.replay[key] for t in done if key in t.replay]
            if seen:
                server_log[key] = round(statistics.median(seen), 2)
        rows[method] = {
            "seconds": [round(t.seconds, 2) for t in done],
            "median_s": round(statistics.median(t.seconds for t in done), 2),
            "phases_median_s": phases,
            "server_log_median": server_log,
        }
    copy = rows.get("floor: cp -a of the base backup", {}).get("median_s")
    replay = rows.get("floor: WAL replay to promotion", {}).get("median_s")
    floor = round(copy + replay, 2) if copy is not None and replay is not None else None
    goals: dict[str, Any] = {"floor_s": floor}
    built_in = rows.get("paramedic pg_basebackup", {}).get("median_s")
    by_hand = rows.get("pgBackRest by hand", {}).get("median_s")
    if built_in and by_hand:
        ratio = built_in / by_hand
        goals["built_in_vs_pgbackrest"] = {
            "ratio": round(ratio, 2),
            "goal": BUILT_IN_VS_PGBACKREST,
            "met": ratio <= BUILT_IN_VS_PGBACKREST,
        }
    for method in ("paramedic pg_basebackup", "paramedic pgbackrest", "pgBackRest by hand"):
        median = rows.get(method, {}).get("median_s")
        if median and floor:
            goals[f"{method} vs floor"] = {
                "ratio": round(median / floor, 2),
                "goal": VS_FLOOR,
                "met": median / floor <= VS_FLOOR,
            }
    return {"rows": rows, "goals": goals}


def table(summary: dict[str, Any]) -> str:
    """The Markdown table of medians."""
    floor = summary["goals"].get("floor_s")
    lines = [
        "| method | trials (s) | median (s) | × floor | server log: before redo / redo / "
        "after redo (s, median) |",
        "|---|---|---|---|---|",
    ]
    for method, row in summary["rows"].items():
        times = ", ".join(f"{s:.1f}" for s in row["seconds"])
        ratio = f"{row['median_s'] / floor:.2f}" if floor and "floor" not in method else ""
        seen = row["server_log_median"]
        keys = ("before_redo_s", "redo_s", "after_redo_s")
        redo = " / ".join(f"{seen[k]:.1f}" for k in keys) if all(k in seen for k in keys) else ""
        lines.append(f"| {method} | {times} | {row['median_s']:.1f} | {ratio} | {redo} |")
    if floor:
        lines.append(f"| **floor = copy + replay** | | {floor:.1f} | 1.00 | |")
    lines.append("")
    for method, row in summary["rows"].items():
        if row["phases_median_s"]:
            lines.append(f"Phases of {method} (median s):")
            for label, seconds in row["phases_median_s"].items():
                lines.append(f"- {label}: {seconds:.2f}")
            lines.append("")
    for name, goal in summary["goals"].items():
        if isinstance(goal, dict):
            verdict = "met" if goal["met"] else "MISSED"
            lines.append(f"- {name}: {goal['ratio']:.2f}× (goal ≤ {goal['goal']}×): {verdict}")
    return "\n".join(lines)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """Build the site, run the interleaved trials, write the summary, remove everything."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=70, help="pgbench -i -s (70: ~1 GB)")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--pgbench-seconds", type=int, default=30)
    parser.add_argument("--archive-timeout", type=int, default=5, help="seconds")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--out", default="restore", help="bench/results/<out>.json and .md")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root: the cluster runs as the unprivileged postgres user")
    signal.signal(signal.SIGTERM, _interrupt)
    methods = [m for m in METHODS if m in args.methods.split(",")]
    base = Path(tempfile.mkdtemp(prefix="paramedic-restore-bench-"))
    base.chmod(0o755)
    trials: list[Trial] = []
    site: Site | None = None
    started = time.monotonic()
    try:
        site = build_site(base, args.scale, args.pgbench_seconds, args.archive_timeout)
        say(f"setup done: {json.dumps(site.facts)}")
        for round_ in range(args.trials):
            order = methods[round_ % len(methods) :] + methods[: round_ % len(methods)]
            for method in order:
                for trial in run_method(site, method, round_):
                    trials.append(trial)
                    say(f"round {round_ + 1}: {trial.method}: {trial.seconds:.2f} s {trial.replay}")
    except KeyboardInterrupt:
        say("interrupted: stopping every server; partial results follow")
    finally:
        if site is not None:
            site.stop_all()
            keep_logs(site, RESULTS / "raw" / f"{args.out}-logs")
        else:
            for pidfile in base.rglob("postmaster.pid"):
                subprocess.run(
                    ["runuser", "-u", "postgres", "--", "pg_ctl", "stop", "-D",
                     str(pidfile.parent), "-m", "immediate"],
                    capture_output=True,
                )  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)
    summary = {
        "command": " ".join(["bench/restore.py", *sys.argv[1:]]),
        "machine": machine(),
        "args": vars(args),
        "setup": site.facts if site else {},
        "wall_s": round(time.monotonic() - started, 1),
        **summarise(trials),
        "trials": [asdict(t) for t in trials],
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    text = table(summary) if trials else "no trial finished"
    (RESULTS / f"{args.out}.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
