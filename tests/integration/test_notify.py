"""Notifications through REAL Apprise to a REAL local webhook receiver on 127.0.0.1.

Apprise's ``json://`` plugin POSTs its own envelope
``{"version", "title", "message", "attachments", "type"}``: our notice JSON is the
``message`` string inside it (``form://`` sends the same fields form-encoded).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from paramedic.catalog.model import Event, NotifyRoute
from paramedic.clock import RealClock
from paramedic.notify import (
    AppriseSender,
    DeliveryError,
    Notice,
    NotificationRecord,
    Notifier,
    RecordingSender,
    Sender,
    title_for,
)
from tests.servers import free_port

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-Pa55"


@dataclass(frozen=True)
class Received:
    """One request the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    def envelope(self) -> dict[str, Any]:
        """The JSON document Apprise POSTed."""
        document: dict[str, Any] = json.loads(self.body)
        return document

    def notice(self) -> dict[str, Any]:
        """Our notice JSON, carried in the envelope's ``message``."""
        document: dict[str, Any] = json.loads(self.envelope()["message"])
        return document


class Receiver:
    """A webhook receiver: a stdlib threading HTTP server collecting what is POSTed to it.

    A path in ``delays`` answers after that many seconds; one in ``statuses`` with that status.
    """

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.delays: dict[str, float] = {}
        self.statuses: dict[str, int] = {}
        self._lock = threading.Lock()
        receiver = self

        class Hook(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                time.sleep(receiver.delays.get(self.path, 0.0))
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers), body))
                self.send_response(receiver.statuses.get(self.path, 200))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def on(self, path: str) -> list[Received]:
        """Requests received on ``path``."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP receiver on a free loopback port."""
    server = Receiver()
    try:
        yield server
    finally:
        server.stop()


class Records:
    """Collects NotificationRecords by route."""

    def __init__(self) -> None:
        self.items: list[NotificationRecord] = []

    def __call__(self, record: NotificationRecord) -> None:
        self.items.append(record)

    def of(self, route_name: str) -> NotificationRecord:
        (found,) = [r for r in self.items if r.route == route_name]
        return found


def incident_notice(event: Event = Event.failure_detected) -> Notice:
    """A notice carrying an incident with its timings."""
    return Notice(
        event=event,
        component="web",
        incident_id="inc-42",
        title=title_for(event, "web", "refused"),
        payload={
            "incident_id": "inc-42",
            "failure": "refused",
            "failed_at": "2026-01-01T00:00:00+00:00",
            "detected_at": "2026-01-01T00:00:02+00:00",
            "time_to_detect_s": 2.0,
            "rto_s": 30.0,
        },
    )


def closed_port() -> int:
    """A loopback port nobody listens on."""
    return free_port()


# ---------------------------------------------------------------- the Sender contract


@dataclass
class Contract:
    """A sender with a route that delivers, one that cannot, and a view of what arrived."""

    sender: Sender
    good: NotifyRoute
    broken: NotifyRoute
    delivered: Callable[[], list[dict[str, Any]]]


@pytest.fixture(params=["apprise", "recording"])
def contract(request: pytest.FixtureRequest, receiver: Receiver) -> Contract:
    """The real AppriseSender and the fake RecordingSender, set up alike."""
    good = NotifyRoute(name="good", url=f"json://127.0.0.1:{receiver.port}/hook")
    broken = NotifyRoute(name="broken", url=f"json://ops:{SECRET}@127.0.0.1:{closed_port()}/hook")
    if request.param == "apprise":
        real = AppriseSender([good, broken], timeout=10)
        return Contract(real, good, broken, lambda: [r.notice() for r in receiver.on("/hook")])
    fake = RecordingSender(down={"broken"})
    return Contract(fake, good, broken, lambda: [json.loads(n.to_json()) for _, n in fake.sent])


async def test_sender_contract(contract: Contract) -> None:
    notice = incident_notice()
    await contract.sender.send(contract.good, notice)
    assert contract.delivered() == [json.loads(notice.to_json())]

    with pytest.raises(DeliveryError) as exc:
        await contract.sender.send(contract.broken, notice)
    message = str(exc.value)
    assert message.startswith("notify route 'broken' (json://127.0.0.1:")
    assert "/***): " in message
    assert SECRET not in message
    assert exc.value.reason in message
    assert len(contract.delivered()) == 1


# ---------------------------------------------------------------- AppriseSender + Notifier


async def test_receiver_gets_the_incident_json(receiver: Receiver) -> None:
    routes = [
        NotifyRoute(name="hook", url=f"json://127.0.0.1:{receiver.port}/hook"),
        NotifyRoute(name="form", url=f"form://127.0.0.1:{receiver.port}/form"),
    ]
    records = Records()
    notifier = Notifier(routes, clock=RealClock(), record=records)
    await notifier.notify(incident_notice())
    assert await notifier.drain(10)

    (posted,) = receiver.on("/hook")
    envelope = posted.envelope()
    assert posted.headers["Content-Type"] == "application/json"
    assert envelope["title"] == "[paramedic] web: failure detected (refused)"
    assert envelope["type"] == "failure"
    assert posted.notice() == {
        "component": "web",
        "event": "failure_detected",
        "incident_id": "inc-42",
        "title": "[paramedic] web: failure detected (refused)",
        "payload": {
            "incident_id": "inc-42",
            "failure": "refused",
            "failed_at": "2026-01-01T00:00:00+00:00",
            "detected_at": "2026-01-01T00:00:02+00:00",
            "time_to_detect_s": 2.0,
            "rto_s": 30.0,
        },
    }

    (form,) = receiver.on("/form")
    fields = parse_qs(form.body.decode())
    assert json.loads(fields["message"][0])["incident_id"] == "inc-42"
    assert fields["type"] == ["failure"]
    assert sorted((r.route, r.status, r.attempts) for r in records.items) == [
        ("form", "sent", 1),
        ("hook", "sent", 1),
    ]


async def test_closed_port_is_retried_then_failed_while_another_route_delivers(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    dead = closed_port()
    routes = [
        NotifyRoute(name="down", url=f"json://127.0.0.1:{dead}/hook"),
        NotifyRoute(name="ops", url=f"json://127.0.0.1:{receiver.port}/hook"),
    ]
    records = Records()
    notifier = Notifier(routes, clock=RealClock(), record=records, retries=2, backoff=0.05)
    with caplog.at_level(logging.WARNING, logger="paramedic.notify"):
        await notifier.notify(incident_notice(Event.recovery_failed))
        assert await notifier.drain(10)

    assert [r.notice()["event"] for r in receiver.on("/hook")] == ["recovery_failed"]
    assert (records.of("ops").status, records.of("ops").attempts) == ("sent", 1)
    down = records.of("down")
    assert (down.status, down.attempts, down.event, down.incident_id) == (
        "failed",
        3,
        Event.recovery_failed,
        "inc-42",
    )
    assert down.error == (
        "Apprise could not deliver: "
        "A Connection error occurred sending JSON notification to 127.0.0.1."
    )
    ours = [r.getMessage() for r in caplog.records if r.name == "paramedic.notify"]
    assert ours[-1] == (
        f"notify route 'down' (json://127.0.0.1:{dead}/***): recovery_failed about web "
        "not delivered after 3 attempts: Apprise could not deliver: "
        "A Connection error occurred sending JSON notification to 127.0.0.1."
    )


async def test_an_http_error_is_a_failure_with_apprises_reason(receiver: Receiver) -> None:
    receiver.statuses["/broken"] = 500
    route = NotifyRoute(name="ops", url=f"json://127.0.0.1:{receiver.port}/broken")
    records = Records()
    notifier = Notifier([route], clock=RealClock(), record=records, retries=1, backoff=0.01)
    await notifier.notify(incident_notice())
    assert await notifier.drain(10)
    assert len(receiver.on("/broken")) == 2
    failed = records.of("ops")
    assert (failed.status, failed.attempts) == ("failed", 2)
    # Apprise's own wording follows our prefix; its status code is what matters.
    assert failed.error is not None
    assert failed.error.startswith("Apprise could not deliver: Failed to send JSON POST")
    assert failed.error.endswith("error=500.")


async def test_notify_does_not_wait_for_a_slow_receiver(receiver: Receiver) -> None:
    receiver.delays["/slow"] = 2.0
    route = NotifyRoute(name="slow", url=f"json://127.0.0.1:{receiver.port}/slow")
    records = Records()
    notifier = Notifier([route], clock=RealClock(), record=records)

    started = time.monotonic()
    await notifier.notify(incident_notice())
    assert time.monotonic() - started < 0.2
    assert receiver.on("/slow") == [] and records.items == []

    # The event loop stays free while the receiver dawdles.
    tick = time.monotonic()
    await asyncio.sleep(0.1)
    assert time.monotonic() - tick < 0.5
    assert notifier.in_flight == 1

    assert await notifier.drain(10)
    assert time.monotonic() - started >= 2.0
    assert [r.notice()["incident_id"] for r in receiver.on("/slow")] == ["inc-42"]
    assert records.of("slow").status == "sent"


async def test_url_secret_never_reaches_logs_or_records(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    routes = [
        NotifyRoute(name="ops", url=f"json://ops:{SECRET}@127.0.0.1:{receiver.port}/hook"),
        NotifyRoute(name="down", url=f"json://ops:{SECRET}@127.0.0.1:{closed_port()}/hook"),
    ]
    records = Records()
    with caplog.at_level(logging.DEBUG):
        notifier = Notifier(routes, clock=RealClock(), record=records, retries=1, backoff=0.01)
        await notifier.notify(incident_notice())
        assert await notifier.drain(10)
        await notifier.aclose()

    # The secret did its job: the receiver was sent it as HTTP basic auth.
    (posted,) = receiver.on("/hook")
    assert posted.headers["Authorization"] == (
        "Basic " + base64.b64encode(f"ops:{SECRET}".encode()).decode()
    )
    assert sorted((r.route, r.status) for r in records.items) == [
        ("down", "failed"),
        ("ops", "sent"),
    ]
    assert any("notify route 'down'" in m for m in caplog.messages)
    assert SECRET not in caplog.text
    assert all(SECRET not in json.dumps(r.to_dict()) for r in records.items)
