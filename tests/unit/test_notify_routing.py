"""Notification routing rules, and the Notifier's retries, isolation and records (fake clock)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from paramedic.catalog.model import Event, NotifyRoute
from paramedic.clock import FakeClock
from paramedic.errors import ParamedicError
from paramedic.notify import (
    LADDER_EVENTS,
    DeliveryError,
    Notice,
    NotificationRecord,
    Notifier,
    RecordingNotifier,
    RecordingSender,
    routes_for,
    skip_reason,
    title_for,
    validate_routes,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def route(name: str, **fields: Any) -> NotifyRoute:
    """A route with a harmless default URL."""
    fields.setdefault("url", f"json://127.0.0.1:9/{name}")
    return NotifyRoute(name=name, **fields)


def notice(event: Event = Event.failure_detected, **fields: Any) -> Notice:
    """A notice about component web."""
    fields.setdefault("component", "web")
    fields.setdefault("incident_id", "inc-1")
    fields.setdefault("title", title_for(event, fields["component"], "refused"))
    return Notice(event=event, **fields)


def names(routes: list[NotifyRoute]) -> list[str]:
    return [r.name for r in routes]


# ---------------------------------------------------------------- routing rules


def test_default_route_gets_every_event() -> None:
    ops = route("ops")
    for event in Event:
        assert names(routes_for(notice(event), [ops])) == ["ops"]


def test_event_filter() -> None:
    ops = route("ops", events=[Event.recovery_failed])
    assert routes_for(notice(Event.failure_detected), [ops]) == []
    assert names(routes_for(notice(Event.recovery_failed), [ops])) == ["ops"]
    assert skip_reason(ops, notice(Event.failure_detected)) == (
        "route 'ops' does not subscribe to failure_detected"
    )


def test_only_after_retries_is_quiet_about_the_ladder_until_it_is_exhausted() -> None:
    quiet = route("quiet", only_after_retries=True)
    for event in LADDER_EVENTS:
        assert routes_for(notice(event), [quiet]) == [], event
        assert names(routes_for(notice(event, ladder_exhausted=True), [quiet])) == ["quiet"]
    assert skip_reason(quiet, notice(Event.recovery_failed)) == (
        "route 'quiet' is only_after_retries and the recovery ladder is not exhausted"
    )


def test_only_after_retries_always_hears_escalated_and_non_ladder_events() -> None:
    quiet = route("quiet", only_after_retries=True)
    for event in set(Event) - LADDER_EVENTS:
        assert names(routes_for(notice(event), [quiet])) == ["quiet"], event
    assert Event.escalated not in LADDER_EVENTS


def test_only_after_retries_still_applies_its_event_filter() -> None:
    quiet = route("quiet", only_after_retries=True, events=[Event.recovery_failed])
    assert routes_for(notice(Event.escalated), [quiet]) == []


def test_escalation_route_needs_outlived_rto_or_escalated() -> None:
    pager = route("pager", escalation=True)
    assert routes_for(notice(Event.failure_detected), [pager]) == []
    assert routes_for(notice(Event.recovery_failed, ladder_exhausted=True), [pager]) == []
    assert names(routes_for(notice(Event.failure_detected, outlived_rto=True), [pager])) == [
        "pager"
    ]
    assert names(routes_for(notice(Event.escalated), [pager])) == ["pager"]
    assert skip_reason(pager, notice(Event.recovery_started)) == (
        "route 'pager' is an escalation route and the incident has neither outlived its RTO "
        "nor been escalated"
    )


def test_escalation_route_applies_its_event_filter() -> None:
    pager = route("pager", escalation=True, events=[Event.recovery_succeeded])
    assert routes_for(notice(Event.escalated), [pager]) == []
    late = notice(Event.recovery_succeeded, outlived_rto=True)
    assert names(routes_for(late, [pager])) == ["pager"]


def test_escalation_and_only_after_retries_must_both_pass() -> None:
    both = route("both", escalation=True, only_after_retries=True)
    assert routes_for(notice(Event.recovery_failed, outlived_rto=True), [both]) == []
    exhausted = notice(Event.recovery_failed, outlived_rto=True, ladder_exhausted=True)
    assert names(routes_for(exhausted, [both])) == ["both"]
    assert names(routes_for(notice(Event.escalated), [both])) == ["both"]


def test_routes_keep_catalog_order() -> None:
    routes = [route("c"), route("a", escalation=True), route("b")]
    assert names(routes_for(notice(Event.escalated), routes)) == ["c", "a", "b"]
    assert names(routes_for(notice(Event.failure_detected), routes)) == ["c", "b"]


# ---------------------------------------------------------------- notices


def test_title_for_is_one_line() -> None:
    assert title_for(Event.failure_detected, "web", "refused") == (
        "[paramedic] web: failure detected (refused)"
    )
    assert title_for(Event.escalated, "db", "budget\nexhausted") == (
        "[paramedic] db: escalated (budget exhausted)"
    )
    assert title_for(Event.recovery_succeeded, "db") == "[paramedic] db: recovery succeeded"


def test_notice_title_is_kept_on_one_line() -> None:
    made = Notice(Event.escalated, "web", None, "[paramedic] web: escalated: exit 1:\n  boom\r\n")
    assert made.title == "[paramedic] web: escalated: exit 1: boom"


def test_notice_json_is_sorted_and_serialises_timings() -> None:
    body = notice(
        payload={
            "failed_at": START,
            "rto": timedelta(seconds=30),
            "event": Event.escalated,
            "tags": {"b", "a"},
        }
    ).to_json()
    assert json.loads(body) == {
        "component": "web",
        "event": "failure_detected",
        "incident_id": "inc-1",
        "payload": {
            "event": "escalated",
            "failed_at": "2026-01-01T00:00:00+00:00",
            "rto": 30.0,
            "tags": ["a", "b"],
        },
        "title": "[paramedic] web: failure detected (refused)",
    }
    assert body.index('"component"') < body.index('"event"') < body.index('"payload"')


# ---------------------------------------------------------------- validation


def test_validate_routes_accepts_usable_urls() -> None:
    validate_routes([route("ops"), route("mail", url="json://user:pw@127.0.0.1:9/x")])


def test_validate_routes_names_the_route_and_hides_the_url() -> None:
    bad = route("ops", url="json://user:hunter2@/hook")
    with pytest.raises(ParamedicError) as exc:
        validate_routes([route("fine"), bad])
    message = str(exc.value)
    assert message == (
        "notify route 'ops': Apprise cannot use this URL (json://***): it cannot parse it or "
        "a required field is missing; fix notify[].url (see https://github.com/caronc/apprise/wiki)"
    )
    assert "hunter2" not in message


def test_validate_routes_reports_an_unknown_scheme() -> None:
    with pytest.raises(ParamedicError) as exc:
        validate_routes([route("ops", url="jsno://127.0.0.1:9/hook")])
    assert str(exc.value).startswith(
        "notify route 'ops': Apprise cannot use this URL (jsno://127.0.0.1:9/***): "
        "unknown scheme jsno://;"
    )


def test_validate_routes_refuses_a_repeated_name() -> None:
    with pytest.raises(ParamedicError) as exc:
        validate_routes([route("ops"), route("ops")])
    assert str(exc.value) == "notify route 'ops' is listed twice; give each route its own name"


def test_notifier_builds_the_apprise_sender_and_checks_urls(fake_clock: FakeClock) -> None:
    with pytest.raises(ParamedicError, match="notify route 'bad': Apprise cannot use"):
        Notifier([route("bad", url="nosuch://x")], clock=fake_clock)


# ---------------------------------------------------------------- the notifier


class Records:
    """Collects NotificationRecords."""

    def __init__(self) -> None:
        self.items: list[NotificationRecord] = []

    def __call__(self, record: NotificationRecord) -> None:
        self.items.append(record)

    def of(self, route_name: str) -> NotificationRecord:
        (found,) = [r for r in self.items if r.route == route_name]
        return found


async def test_retries_with_exponential_backoff_then_sends(fake_clock: FakeClock) -> None:
    sender = RecordingSender(failures={"ops": 2})
    records = Records()
    notifier = Notifier([route("ops")], clock=fake_clock, sender=sender, record=records)
    await notifier.notify(notice())
    assert await notifier.drain(1)
    assert len(sender.attempts) == 3
    assert fake_clock.now() == START + timedelta(seconds=1 + 2)
    assert records.items == [
        NotificationRecord(
            route="ops",
            event=Event.failure_detected,
            component="web",
            incident_id="inc-1",
            status="sent",
            attempts=3,
            error=None,
            at=START + timedelta(seconds=3),
        )
    ]


async def test_gives_up_after_retries_and_records_failure(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    ops = route("ops", url="json://alice:s3cr3tpass@127.0.0.1:9/hook")
    sender = RecordingSender(down={"ops"})
    records = Records()
    notifier = Notifier(
        [ops], clock=fake_clock, sender=sender, record=records, retries=3, backoff=0.5
    )
    with caplog.at_level(logging.WARNING, logger="paramedic.notify"):
        await notifier.notify(notice())
        assert await notifier.drain(1)
    assert len(sender.attempts) == 4
    assert fake_clock.now() == START + timedelta(seconds=0.5 + 1 + 2)
    failed = records.of("ops")
    assert (failed.status, failed.attempts, failed.error) == (
        "failed",
        4,
        "the channel is down (fake)",
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings[0] == (
        "notify route 'ops' (json://127.0.0.1:9/***): attempt 1 for failure_detected about web "
        "failed, retrying in 0.5s: the channel is down (fake)"
    )
    assert warnings[-1] == (
        "notify route 'ops' (json://127.0.0.1:9/***): failure_detected about web not delivered "
        "after 4 attempts: the channel is down (fake)"
    )
    assert len(warnings) == 4
    assert "s3cr3tpass" not in caplog.text


async def test_zero_retries_means_one_attempt(fake_clock: FakeClock) -> None:
    sender = RecordingSender(down={"ops"})
    records = Records()
    notifier = Notifier([route("ops")], clock=fake_clock, sender=sender, record=records, retries=0)
    await notifier.notify(notice())
    assert await notifier.drain(1)
    assert (records.of("ops").status, records.of("ops").attempts) == ("failed", 1)
    assert fake_clock.now() == START


async def test_one_failing_route_does_not_stop_another(fake_clock: FakeClock) -> None:
    sender = RecordingSender(down={"pager"})
    records = Records()
    routes = [route("pager"), route("ops")]
    notifier = Notifier(routes, clock=fake_clock, sender=sender, record=records, retries=1)
    await notifier.notify(notice())
    assert await notifier.drain(1)
    assert [n.incident_id for n in sender.sent_to("ops")] == ["inc-1"]
    assert sender.sent_to("pager") == []
    assert (records.of("ops").status, records.of("pager").status) == ("sent", "failed")


async def test_a_hung_route_does_not_delay_another(fake_clock: FakeClock) -> None:
    class HangsForPager(RecordingSender):
        async def send(self, route: NotifyRoute, notice: Notice) -> None:
            if route.name == "pager":
                await asyncio.Event().wait()
            await super().send(route, notice)

    sender = HangsForPager()
    records = Records()
    notifier = Notifier(
        [route("pager"), route("ops")], clock=fake_clock, sender=sender, record=records
    )
    await notifier.notify(notice())
    assert not await notifier.drain(0.05)
    assert [r.route for r in records.items] == ["ops"]
    await notifier.aclose(0)
    assert records.of("pager").error == "cancelled before delivery: the notifier was closed"


async def test_notify_returns_before_delivery(fake_clock: FakeClock) -> None:
    hold = asyncio.Event()
    sender = RecordingSender(hold=hold)
    notifier = Notifier([route("ops")], clock=fake_clock, sender=sender)
    # A notify() that waited for the held delivery would time out here instead of hanging.
    await asyncio.wait_for(notifier.notify(notice()), 1)
    assert sender.sent == []
    assert notifier.in_flight == 1
    hold.set()
    assert await notifier.drain(1)
    assert notifier.in_flight == 0
    assert len(sender.sent) == 1


async def test_unrouted_notice_sends_and_records_nothing(fake_clock: FakeClock) -> None:
    sender = RecordingSender()
    records = Records()
    notifier = Notifier(
        [route("pager", escalation=True)], clock=fake_clock, sender=sender, record=records
    )
    await notifier.notify(notice(Event.recovery_started))
    assert notifier.in_flight == 0
    assert await notifier.drain(1)
    assert sender.attempts == []
    assert records.items == []


async def test_a_failing_recorder_is_logged_not_raised(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(record: NotificationRecord) -> None:
        raise RuntimeError("store is read-only")

    sender = RecordingSender()
    notifier = Notifier([route("a"), route("b")], clock=fake_clock, sender=sender, record=broken)
    with caplog.at_level(logging.WARNING, logger="paramedic.notify"):
        await notifier.notify(notice())
        assert await notifier.drain(1)
    assert [name for name, _ in sender.sent] == ["a", "b"]
    assert (
        "notify route 'a': could not record the sent outcome of failure_detected: "
        "RuntimeError: store is read-only"
    ) in caplog.messages


async def test_closed_notifier_drops_notices(
    fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    sender = RecordingSender()
    notifier = Notifier([route("ops")], clock=fake_clock, sender=sender)
    await notifier.aclose()
    with caplog.at_level(logging.WARNING, logger="paramedic.notify"):
        await notifier.notify(notice())
    assert notifier.in_flight == 0
    assert sender.attempts == []
    assert caplog.messages == ["notifier is closed: failure_detected about web not sent"]


def test_foreign_sender_errors_are_described_and_scrubbed() -> None:
    from paramedic.notify.notifier import _describe
    from paramedic.notify.redaction import scrub, shown_url

    url = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"
    leaked = OSError(f"cannot reach {url}")
    described = scrub(_describe(leaked), url)
    assert described == "OSError: cannot reach slack://***/***/***"
    assert shown_url(url) == "slack://***"
    assert shown_url("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/42") == "tgram://***"
    assert shown_url("json://u:pw@127.0.0.1:9/hook") == "json://127.0.0.1:9/***"
    unparseable = "json://u:pw@[::1/x"
    assert scrub(f"cannot use {unparseable}", unparseable) == "cannot use json://***"
    failure = DeliveryError(route("ops"), "refused")
    assert _describe(failure) == "refused"
    assert str(failure) == "notify route 'ops' (json://127.0.0.1:9/***): refused"


# ---------------------------------------------------------------- the fake notifier


async def test_recording_notifier_keeps_notices_and_knows_routes() -> None:
    fake = RecordingNotifier([route("ops"), route("pager", escalation=True)])
    await fake.notify(notice(Event.failure_detected))
    await fake.notify(notice(Event.escalated, component="db"))
    assert fake.events() == [Event.failure_detected, Event.escalated]
    assert fake.events("db") == [Event.escalated]
    assert [n.event for n in fake.routed_to("pager")] == [Event.escalated]
    assert len(fake.routed_to("ops")) == 2
    assert await fake.drain()
    await fake.aclose()
    await fake.notify(notice(Event.recovery_succeeded))
    assert len(fake.notices) == 2
