"""The supervisors compared by the recovery benchmark, each configured for its fastest sane recovery.

Each peer writes its configuration into a private work folder, starts the tool in its
own process group (so one ``killpg`` ends it), and owns the service ``svc.py`` on
``port``. The service appends its pid to ``WORK/svc/starts`` at every start.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from common import PYTHON, ROOT

SVC = Path(__file__).resolve().with_name("svc.py")
MONIT = shutil.which("monit") or "/usr/bin/monit"
SUPERVISORD = PYTHON.parent / "supervisord"


@dataclass(frozen=True)
class Peer:
    """One tool and its settings; ``batch`` trials run per start of the tool."""

    name: str
    kind: str  # paramedic | supervisord | monit
    interval: str = "1s"
    batch: int = 1000
    stop_grace: str | None = "1s"
    """paramedic's ``spec.stop_grace``; None leaves the default (10s), as a user would."""

    def write_config(self, work: Path, port: int) -> list[str]:
        """Write the tool's configuration under ``work``; return the argv that runs it."""
        (work / "svc").mkdir(parents=True, exist_ok=True)
        if self.kind == "paramedic":
            return _paramedic(work, port, self.interval, self.stop_grace)
        if self.kind == "supervisord":
            return _supervisord(work, port)
        if self.kind == "monit":
            return _monit(work, port)
        raise ValueError(f"unknown peer kind {self.kind!r}")

    def start(self, work: Path, port: int) -> subprocess.Popen[bytes]:
        """Start the tool in a new session, its output in ``work/tool.log``."""
        argv = self.write_config(work, port)
        log = (work / "tool.log").open("ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        return subprocess.Popen(
            argv, cwd=work, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )


PEERS = [
    Peer("paramedic 1s", "paramedic", "1s", batch=3),
    Peer("paramedic 250ms", "paramedic", "250ms", batch=3),
    Peer("paramedic-defaults", "paramedic", "1s", batch=3, stop_grace=None),
    Peer("supervisord", "supervisord"),
    Peer("monit", "monit"),
]
"""paramedic's flapping guard escalates a 4th incident in 10 minutes, so it restarts every 3."""


def _paramedic(work: Path, port: int, interval: str, stop_grace: str | None) -> list[str]:
    grace = f"\n      stop_grace: {stop_grace}" if stop_grace else ""
    catalog = f"""version: 1
location: bench
state: sqlite:///paramedic.db
agent: {{run_dir: ./var/run, log_dir: ./var/log}}
components:
  svc:
    type: application_server
    rto: 30s
    rpo: 0s
    provider: process
    spec:
      command: ["{PYTHON}", "{SVC}"]
      port: {port}
      env: {{STATE_DIR: "{work / "svc"}"}}{grace}
    health: {{check: http, url: "http://127.0.0.1:{port}/", interval: {interval}, timeout: 500ms, failures: 2}}
    recovery: [{{strategy: restart_service, timeout: 10s}}]
    budget: {{recoveries: 1000, window: 10m}}
"""
    (work / "paramedic.yaml").write_text(catalog)
    return [str(PYTHON.parent / "paramedic"), "run", "paramedic.yaml", "--log-format", "json"]


def _supervisord(work: Path, port: int) -> list[str]:
    conf = f"""[supervisord]
nodaemon=true
logfile={work / "supervisord.log"}
pidfile={work / "supervisord.pid"}
childlogdir={work}

[program:svc]
command={PYTHON} {SVC}
environment=PORT="{port}",STATE_DIR="{work / "svc"}"
autostart=true
autorestart=true
startsecs=0
startretries=1000
stopwaitsecs=1
stopasgroup=true
killasgroup=true
"""
    (work / "supervisord.conf").write_text(conf)
    return [str(SUPERVISORD), "-n", "-c", str(work / "supervisord.conf")]


def _monit(work: Path, port: int) -> list[str]:
    pidfile = work / "svc" / "svc.pid"
    start = work / "start.sh"
    start.write_text(
        "#!/bin/sh\n"
        f'cd "{ROOT}"\n'
        f'PORT={port} STATE_DIR="{work / "svc"}" PIDFILE="{pidfile}" '
        f'nohup "{PYTHON}" "{SVC}" >>"{work / "svc.log"}" 2>&1 &\n'
    )
    stop = work / "stop.sh"
    stop.write_text(  # SIGTERM, one second of grace, then SIGKILL: as paramedic's stop_grace
        "#!/bin/sh\n"
        f'pid=$(cat "{pidfile}" 2>/dev/null) || exit 0\n'
        'kill -TERM "$pid" 2>/dev/null || exit 0\n'
        'for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done\n'
        'kill -KILL "$pid" 2>/dev/null\nexit 0\n'
    )
    for script in (start, stop):
        script.chmod(stat.S_IRWXU)
    # monit pauses the port test for the start program's timeout after each start: 2 s, not 30
    conf = f"""set daemon 1
set logfile {work / "monit.log"}
set pidfile {work / "monit.pid"}
set idfile {work / "monit.id"}
set statefile {work / "monit.state"}

check process svc with pidfile {pidfile}
  start program = "{start}" with timeout 2 seconds
  stop program = "{stop}" with timeout 10 seconds
  if failed host 127.0.0.1 port {port} protocol http request "/" with timeout 1 seconds
     for 2 cycles then restart
"""
    control = work / "monitrc"
    control.write_text(conf)
    control.chmod(stat.S_IRWXU)  # monit refuses a control file others can read
    return [MONIT, "-I", "-c", str(control)]
