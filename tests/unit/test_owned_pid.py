"""``status`` reads the owned pid from the process provider's run-dir record, and reports it only
while that very process runs (a reused pid, with another start time, is not reported)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from paramedic.catalog import load_catalog_text
from paramedic.providers.local.supervise import proc_start_time
from paramedic.views.owned import owned_pid, owned_pids

CATALOG = """\
version: 1
components:
  web:
    type: application_server
    rto: 30s
    rpo: 0s
    provider: process
    spec: {command: [sleep, "60"]}
    health: {check: tcp, port: 1}
  cache:
    type: cache
    rto: 30s
    rpo: 0s
    provider: redis
    spec: {dir: ./redis}
    health: {check: redis}
"""


def _record(tmp_path: Path, pid: int, start_time: int) -> None:
    folder = tmp_path / "var" / "run" / "web"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "primary.pid").write_text(json.dumps({"pid": pid, "start_time": start_time}))


def test_the_pid_of_the_live_owned_process_and_none_otherwise(tmp_path: Path) -> None:
    catalog = load_catalog_text(CATALOG, "c.yaml", tmp_path)
    assert owned_pids(catalog) == {"web": None, "cache": None}  # no record yet
    me, started = os.getpid(), proc_start_time(os.getpid())
    assert started is not None
    _record(tmp_path, me, started)
    assert owned_pid(catalog, "web") == me
    _record(tmp_path, me, started + 1)  # the pid now belongs to another process
    assert owned_pid(catalog, "web") is None
    assert owned_pid(catalog, "cache") is None  # not a process component
    assert owned_pid(catalog, "nope") is None
