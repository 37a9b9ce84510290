"""Pure parts of the API: listen addresses, the token, the event hub, the alert intake, the models."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from paramedic.api.auth import ENV_VAR, Token, agent_token, client_token
from paramedic.api.events import EventHub
from paramedic.api.listen import check_exposure, parse_listen
from paramedic.api.models import Component, Incident, failure_class
from paramedic.catalog.loader import load_catalog
from paramedic.errors import ParamedicError

CATALOG = """\
version: 1
components:
  web:
    type: application_server
    rto: 30s
    rpo: 0s
    provider: process
    spec: {command: ["true"]}
    health: {check: tcp, port: 9}
"""


def _catalog(tmp_path: Path, extra: str = "") -> Any:
    path = tmp_path / "paramedic.yaml"
    path.write_text(CATALOG + extra)
    return load_catalog(str(path))


def test_listen_parses_host_and_port_and_knows_loopback() -> None:
    assert parse_listen("127.0.0.1:8300").loopback
    assert parse_listen("[::1]:8300").loopback
    assert parse_listen("localhost:0").port == 0
    assert not parse_listen("0.0.0.0:8300").loopback
    assert not parse_listen("db.example:8300").loopback
    with pytest.raises(ValueError, match=r"HOST:PORT like 127\.0\.0\.1:8300"):
        parse_listen("8300")
    with pytest.raises(ValueError, match="must be 0-65535"):
        parse_listen("127.0.0.1:70000")


def test_a_non_loopback_address_needs_tls_or_insecure_listen() -> None:
    public = parse_listen("0.0.0.0:8300")
    with pytest.raises(ParamedicError, match="--insecure-listen"):
        check_exposure(public, tls=False, insecure=False)
    check_exposure(public, tls=True, insecure=False)
    check_exposure(public, tls=False, insecure=True)
    check_exposure(parse_listen("127.0.0.1:8300"), tls=False, insecure=False)


def test_the_token_matches_only_its_bearer_header_and_never_shows_itself() -> None:
    token = Token("abc123", "test")
    assert token.matches("Bearer abc123")
    assert token.matches("bearer abc123")
    assert not token.matches("Bearer abc1234")
    assert not token.matches("Basic abc123")
    assert not token.matches(None)
    assert "abc123" not in repr(token)


def test_a_generated_token_is_written_0600_and_read_back_by_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    catalog = _catalog(tmp_path)
    token = agent_token(catalog)
    path = tmp_path / "var" / "run" / "api-token"
    assert token.source == str(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    client = client_token(catalog)
    assert client is not None and client.secret == token.secret
    # kept across starts: agents sharing a run dir (several named agents) share one token
    assert agent_token(catalog).secret == token.secret
    os.chmod(path, 0o644)  # readable by others: it may have leaked, so a new one replaces it
    fresh = agent_token(catalog)
    assert fresh.secret != token.secret and stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_the_environment_and_token_file_take_precedence(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, "from-env")
    assert agent_token(_catalog(tmp_path)).secret == "from-env"
    (tmp_path / "tok").write_text("from-file\n")
    catalog = _catalog(tmp_path, "api: {token_file: tok}\n")
    assert agent_token(catalog).secret == "from-file"
    (tmp_path / "tok").write_text("")
    with pytest.raises(ParamedicError, match="is empty"):
        agent_token(catalog)


async def test_the_hub_fans_out_and_drops_a_slow_readers_oldest_lines() -> None:
    hub = EventHub(queue_size=2)
    hub.bind(asyncio.get_running_loop())
    fast, slow = hub.subscribe(), hub.subscribe()
    hub.publish({"component": "a", "decision": "one"})
    assert (await fast.queue.get())["decision"] == "one"
    for name in ("two", "three", "four"):
        hub.publish({"component": "a", "decision": name})
    assert slow.dropped == 2
    got: list[Any] = []

    async def read() -> None:
        async for record in hub.follow(slow, heartbeat_s=60):
            got.append(record)

    reader = asyncio.create_task(read())
    await asyncio.sleep(0)
    hub.close()
    await reader
    assert [r["decision"] for r in got] == ["events_dropped", "three", "four"]
    assert got[0]["dropped"] == 2
    assert hub.subscribers == 0


async def test_the_hub_accepts_lines_from_other_threads() -> None:
    hub = EventHub()
    hub.bind(asyncio.get_running_loop())
    sub = hub.subscribe()
    await asyncio.to_thread(hub.publish, {"component": "a", "decision": "from_thread"})
    record = await asyncio.wait_for(sub.queue.get(), 5)
    assert record is not None and record["decision"] == "from_thread"


def test_alert_matchers_default_to_the_component_label(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path)
    alerts = catalog.components["web"].alerts
    assert alerts.matches("web", {"paramedic_component": "web", "severity": "page"})
    assert not alerts.matches("web", {"paramedic_component": "db"})


def test_the_models_hold_exactly_the_clis_json(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from paramedic.register import register_components
    from paramedic.store import Store

    catalog = _catalog(tmp_path)
    store = Store.open(catalog.state_url())
    try:
        register_components(store, catalog)
        now = datetime.now(UTC)
        store.record_check("web", at=now, ok=False, state="failed", detail="refused: nothing")
        row = store.component("web").to_json()
        assert failure_class(row) == "refused"
        assert (
            Component.model_validate(row).model_dump(
                exclude={"last_class", "open_incident", "owner_agent"}
            )
            == row
        )
        incident = store.open_incident(
            component="web",
            kind="manual",
            failed_at=now,
            detected_at=now,
            failure=None,
            reason="test",
            target_rto_s=30,
            target_rpo_s=0,
        )
        shown = store.incident(incident.id).to_json(store.steps(incident.id))
        assert Incident.model_validate(shown).model_dump() == shown
    finally:
        store.close()
