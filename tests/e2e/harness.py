"""Drive the real `paramedic` command: write a catalog, run the agent, read status and history."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SVC = Path(__file__).with_name("svc.py")
PARAMEDIC = [sys.executable, "-m", "paramedic.cli"]
# Every agent started in the current test: conftest prints their logs' tails when it fails.
STARTED: list[Agent] = []


def wait_for(
    what: str, predicate: Callable[[], Any], timeout: float = 30.0, every: float = 0.1
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def paramedic(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a user would."""
    result = subprocess.run(
        [*PARAMEDIC, *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"paramedic {' '.join(args)} exited {result.returncode}: {result.stderr}"
        )
    return result


@dataclass
class Webhook:
    """A local HTTP receiver collecting the JSON notifications paramedic posts."""

    server: ThreadingHTTPServer
    bodies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """The Apprise URL pointing at this receiver."""
        return f"json://127.0.0.1:{self.server.server_address[1]}/hook"

    def events(self) -> list[str]:
        """Events received so far, in order."""
        found = []
        for body in self.bodies:
            message = body.get("message", "")
            try:
                found.append(json.loads(message)["event"])
            except (ValueError, KeyError, TypeError):
                found.append("?")
        return found


def start_webhook() -> Webhook:
    """Start a receiver on a free loopback port."""
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            try:
                bodies.append(json.loads(raw))
            except ValueError:
                bodies.append({"raw": raw.decode(errors="replace")})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return Webhook(server, bodies)


@dataclass
class Agent:
    """A running `paramedic run` process."""

    process: subprocess.Popen[str]
    cwd: Path
    log_path: Path
    handle: Any

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        """Signal the agent and wait for it to exit."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.handle.close()
        return int(self.process.returncode)

    def log(self) -> str:
        """What the agent printed so far."""
        return self.log_path.read_text() if self.log_path.exists() else ""


def start_agent(cwd: Path, catalog: str = "paramedic.yaml", *args: str) -> Agent:
    """Start `paramedic run` with a JSON decision log captured to a file (``args`` added)."""
    log_path = cwd / f"agent-{time.monotonic_ns()}.log"
    handle = log_path.open("w")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [*PARAMEDIC, "run", catalog, "--log-format", "json", *args],
        cwd=cwd,
        stdout=handle,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    agent = Agent(process, cwd, log_path, handle)
    STARTED.append(agent)
    return agent


def _not_yet(result: subprocess.CompletedProcess[str]) -> bool:
    """True when the agent has not created its state store yet (read-only verbs never do)."""
    return result.returncode == 2 and (
        "does not exist" in result.stderr or "holds no paramedic tables" in result.stderr
    )


def status(cwd: Path) -> dict[str, Any]:
    """`paramedic status --json` (empty while the starting agent has no store yet)."""
    result = paramedic("status", "--json", cwd=cwd, check=False)
    if _not_yet(result):
        return {"components": [], "open_incidents": []}
    if result.returncode != 0:
        raise AssertionError(f"paramedic status exited {result.returncode}: {result.stderr}")
    return dict(json.loads(result.stdout))


def component(cwd: Path, name: str) -> dict[str, Any]:
    """One component's row of `status --json` (empty before the agent has written it)."""
    return next((c for c in status(cwd)["components"] if c["name"] == name), {})


def history(cwd: Path, name: str | None = None, open_only: bool = False) -> list[dict[str, Any]]:
    """`paramedic history --json` incidents, newest first."""
    args = ["history", "--json"] + ([name] if name else [])
    result = paramedic(*args, cwd=cwd, check=False)
    if _not_yet(result):
        return []
    if result.returncode != 0:
        raise AssertionError(f"paramedic history exited {result.returncode}: {result.stderr}")
    incidents = json.loads(result.stdout)["incidents"]
    return [i for i in incidents if i["open"]] if open_only else list(incidents)


def starts(state_dir: Path) -> list[int]:
    """Pids the test service recorded, one per start."""
    path = state_dir / "starts"
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def service_block(
    name: str,
    port: int,
    state_dir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    recovery: str = "[{strategy: restart_service, timeout: 10s}]",
    depends_on: str = "[]",
    check: str | None = None,
    budget: str = "",
    rto: str = "20s",
) -> str:
    """YAML of one component running svc.py under the process provider."""
    env = {"STATE_DIR": str(state_dir), **(extra_env or {})}
    env_yaml = ", ".join(f"{k}: {json.dumps(v)}" for k, v in env.items())
    health = (
        check
        or f'{{check: http, url: "http://127.0.0.1:{port}/", interval: 300ms, timeout: 300ms, failures: 2}}'
    )
    return f"""
  {name}:
    type: application_server
    constraint: "test"
    criticality: important
    rto: {rto}
    rpo: 0s
    depends_on: {depends_on}
    provider: process
    spec:
      command: ["{sys.executable}", "{SVC}"]
      port: {port}
      env: {{{env_yaml}}}
      stop_grace: 1s
    health: {health}
    recovery: {recovery}
{budget}"""


def write_catalog(
    cwd: Path, components: str, webhook: Webhook | None = None, escalation: Webhook | None = None
) -> Path:
    """A catalog with the given component blocks (and notify routes to the webhooks)."""
    routes = f'  - name: ops\n    url: "{webhook.url}"\n' if webhook else ""
    if escalation:
        routes += f'  - name: duty-manager\n    url: "{escalation.url}"\n    escalation: true\n'
    notify = f"notify:\n{routes}" if routes else ""
    text = f"version: 1\nlocation: test-host\nstate: sqlite:///paramedic.db\n{notify}components:{components}"
    path = cwd / "paramedic.yaml"
    path.write_text(text)
    return path
