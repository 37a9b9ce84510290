"""Catalog loading: time, peak RSS and Python allocations of ``load_catalog`` at N components.

    .venv/bin/python bench/catalog_load.py [--sizes 1000,10000] [--trials 3] [--out catalog-load]

The catalog is the one ``capacity.py`` generates (``catalog_text``). Each measurement is a
fresh child process, so one size's memory does not carry into the next:
  time     median wall time of ``load_catalog`` over --trials children
  rss      VmHWM after the load minus VmHWM before it (the parse's peak on top of imports),
           and VmRSS after ``gc.collect()`` with the Catalog still held (what stays)
  traced   tracemalloc's peak and what is still allocated after the load (a separate child:
           tracing slows the parse several times)
Summary: bench/results/OUT.json and OUT.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

from capacity import catalog_text
from common import PYTHON, RESULTS, peak_rss_mb


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child(n: int, mode: str) -> dict[str, Any]:
    """Load an ``n``-component catalog once in this process and measure it (``mode``)."""
    from paramedic.catalog.loader import load_catalog

    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "paramedic.yaml"
        path.write_text(catalog_text(n, 8080))
        gc.collect()
        if mode == "traced":
            tracemalloc.start()
            catalog = load_catalog(path)
            gc.collect()
            held, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert len(catalog.components) == n
            return {"traced_peak_mb": peak / 2**20, "traced_held_mb": held / 2**20}
        hwm_before = peak_rss_mb(os.getpid())
        start = time.perf_counter()
        catalog = load_catalog(path)
        seconds = time.perf_counter() - start
        hwm_after = peak_rss_mb(os.getpid())
        gc.collect()
        assert len(catalog.components) == n
        return {
            "seconds": seconds,
            "rss_before_mb": hwm_before,
            "parse_peak_mb": hwm_after - hwm_before,
            "peak_rss_mb": hwm_after,
            "rss_after_gc_mb": _rss_mb(),
        }


def _run_child(n: int, mode: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(PYTHON), __file__, "child", str(n), mode],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(n: int, trials: int) -> dict[str, Any]:
    """Median load time over ``trials`` children, the RSS of the median one, one traced run."""
    runs = sorted((_run_child(n, "time") for _ in range(trials)), key=lambda r: r["seconds"])
    middle = runs[len(runs) // 2]
    row = {"components": n, **{k: round(v, 2) for k, v in middle.items()}}
    row["seconds_all"] = [round(r["seconds"], 2) for r in runs]
    row.update({k: round(v, 1) for k, v in _run_child(n, "traced").items()})
    return row


def table(rows: list[dict[str, Any]]) -> list[str]:
    """The Markdown table of ``rows``."""
    lines = [
        "| components | load (s), median | peak RSS (MB) | parse peak over imports (MB) "
        "| RSS after gc (MB) | tracemalloc peak / held (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['components']:,} | {r['seconds']} | {r['peak_rss_mb']:.0f} "
            f"| {r['parse_peak_mb']:.0f} | {r['rss_after_gc_mb']:.0f} "
            f"| {r['traced_peak_mb']:.0f} / {r['traced_held_mb']:.0f} |"
        )
    return lines


def main() -> int:
    """``child N MODE`` measures one load; otherwise the sizes in turn and the summary."""
    if len(sys.argv) == 4 and sys.argv[1] == "child":
        print(json.dumps(child(int(sys.argv[2]), sys.argv[3])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--out", default="catalog-load")
    args = parser.parse_args()
    rows = [measure(int(n), args.trials) for n in args.sizes.split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(rows, indent=2) + "\n")
    (RESULTS / f"{args.out}.md").write_text("\n".join(table(rows)) + "\n")
    print("\n".join(table(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
