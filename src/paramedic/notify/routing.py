"""Which routes a notice goes to: pure functions over the catalog's ``notify:`` list.

The rules, applied in this order (a route gets a notice only when every rule lets it):

1. **events**: the notice's event must be in the route's ``events`` (default: all events).
2. **escalation** routes get a notice only when the incident has outlived the component's
   RTO (``notice.outlived_rto``) or the event is ``escalated``.
3. **only_after_retries** routes stay quiet about the recovery ladder until it is exhausted:
   the ladder events (failure_detected, recovery_started, recovery_succeeded,
   recovery_failed, verification_failed, blocked) reach them only when
   ``notice.ladder_exhausted`` is set. ``escalated`` always reaches them, and so do the
   events that are not about retrying (approval_needed, rpo_at_risk, backup_failed,
   drill_finished): waiting for retries would not make those any less worth a look.
   A recovery_succeeded with ``ladder_exhausted`` set (recovered after the ladder ran out,
   e.g. by hand) reaches them, so whoever was paged also hears the all-clear.

A route that is both an escalation route and only_after_retries must pass both rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from paramedic.catalog.model import Event, NotifyRoute
from paramedic.errors import ParamedicError
from paramedic.notify.notice import Notice

LADDER_EVENTS = frozenset(
    {
        Event.failure_detected,
        Event.recovery_started,
        Event.recovery_succeeded,
        Event.recovery_failed,
        Event.verification_failed,
        Event.blocked,
    }
)
"""Events an ``only_after_retries`` route hears only once the recovery ladder is exhausted."""


def skip_reason(route: NotifyRoute, notice: Notice) -> str | None:
    """Why ``route`` does not get ``notice``, in words; None when it does."""
    if notice.event not in route.events:
        return f"route {route.name!r} does not subscribe to {notice.event.value}"
    if route.escalation and not (notice.outlived_rto or notice.event is Event.escalated):
        return (
            f"route {route.name!r} is an escalation route and the incident has neither "
            "outlived its RTO nor been escalated"
        )
    if route.only_after_retries and notice.event in LADDER_EVENTS and not notice.ladder_exhausted:
        return (
            f"route {route.name!r} is only_after_retries and the recovery ladder is not exhausted"
        )
    return None


def routes_for(notice: Notice, routes: Iterable[NotifyRoute]) -> list[NotifyRoute]:
    """The routes that get ``notice``, in catalog order."""
    return [route for route in routes if skip_reason(route, notice) is None]


def require_unique_names(routes: Sequence[NotifyRoute]) -> None:
    """Raise ParamedicError when two routes share a name (records and logs name routes)."""
    seen: set[str] = set()
    for route in routes:
        if route.name in seen:
            raise ParamedicError(
                f"notify route {route.name!r} is listed twice; give each route its own name"
            )
        seen.add(route.name)
