"""The API over a real SQLite state store, with the agent's side recorded (``RecordingCore``)."""

from __future__ import annotations

import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from paramedic.api.auth import Token
from paramedic.api.context import ApiContext, Snapshot
from paramedic.api.events import EventHub
from paramedic.api.metrics import AgentMetrics
from paramedic.catalog.loader import load_catalog
from paramedic.catalog.model import Catalog
from paramedic.drills.runner import DrillRunner
from paramedic.register import register_components
from paramedic.store import Store

TOKEN = "s3cret-token-for-tests"

CATALOG = """\
version: 1
location: test-host
state: sqlite:///paramedic.db
components:
  web:
    type: application_server
    rto: 30s
    rpo: 0s
    provider: process
    spec: {command: ["true"]}
    health: {check: http, url: "http://127.0.0.1:9/", interval: 1s}
    recovery: [{strategy: restart_service}]
  db:
    type: database
    rto: 5m
    rpo: 1m
    provider: process
    spec: {command: ["true"]}
    health: {check: tcp, port: 9}
    alerts: {matchers: {service: orders, severity: page}, action: recover}
"""


@dataclass
class RecordingCore:
    """The API's view of an agent, recording what the API asked of it (the real one: e2e)."""

    catalog: Catalog
    store: Store
    spawned: list[str] = field(default_factory=list)
    alerts: list[tuple[str, str, bool | None]] = field(default_factory=list)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))

    def snapshot(self) -> Snapshot:
        return Snapshot("test:agent", self.started, time.monotonic(), True, 0.0, 0, 2)

    def owner_of(self, name: str) -> str | None:
        return "test:agent" if name in self.catalog.components else None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.spawned.append(coro.__qualname__)
        coro.close()

    def backing_up(self, name: str) -> bool:
        return False

    async def take_backup(self, name: str) -> None:
        return None

    def drill_runner(self) -> DrillRunner:
        return DrillRunner(self.catalog, self.store)

    def alert(self, name: str, summary: str, recover: bool) -> None:
        self.alerts.append((name, summary, recover))

    def alert_resolved(self, name: str, summary: str) -> None:
        self.alerts.append((name, summary, None))


@pytest.fixture
def api_ctx(tmp_path: Path) -> Iterator[ApiContext]:
    path = tmp_path / "paramedic.yaml"
    path.write_text(CATALOG)
    catalog = load_catalog(str(path))
    store = Store.open(catalog.state_url())
    register_components(store, catalog)
    for name in catalog.components:  # every component checked once: /readyz is 200
        store.record_check(name, at=datetime.now(UTC), ok=True, state="healthy", detail="ok")
    metrics = AgentMetrics()
    core = RecordingCore(catalog, store)
    metrics.watch_store(store, lambda: catalog, core.snapshot)
    ctx = ApiContext(core, store, EventHub(), Token(TOKEN, "test"), metrics=metrics)
    yield ctx
    ctx.close()
    store.close()
