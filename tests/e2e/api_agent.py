"""`paramedic run --listen` as a subprocess, with its base URL and token, for the API's e2e tests."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.harness import PARAMEDIC, wait_for


class Listening:
    """A `paramedic run --listen` process and its base URL."""

    def __init__(self, cwd: Path, port: int, *extra: str, token_file: Path | None = None) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = cwd / "agent.log"
        self._handle = self.log_path.open("w")
        self.process = subprocess.Popen(
            [
                *PARAMEDIC,
                "run",
                "paramedic.yaml",
                "--log-format",
                "json",
                "--listen",
                f"127.0.0.1:{port}",
                *extra,
            ],
            cwd=cwd,
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.token = ""
        token_file = token_file or cwd / "var" / "run" / "api-token"
        wait_for("the API to listen", lambda: self._up(), timeout=60)
        self.token = token_file.read_text().strip()

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"the agent exited: {self.log()}")
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        return self.log_path.read_text()

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10, **kw)

    def post(self, path: str, body: Any = None, token: bool = True) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if token else {}
        return httpx.post(self.url + path, json=body, headers=headers, timeout=10)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._handle.close()
        return int(self.process.returncode)
