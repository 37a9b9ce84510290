"""Every component's circuit now, read from the store (for ``paramedic status``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from paramedic.catalog.model import Budget
from paramedic.recovery.budget import Circuit, circuit_of, window_start
from paramedic.store import ComponentRow, Store


def circuits(
    store: Store,
    components: Sequence[ComponentRow],
    budgets: Mapping[str, Budget] | None,
    now: datetime,
) -> dict[str, Circuit]:
    """The circuit of each of ``components``: two queries plus one per escalated component.

    ``budgets`` None (no catalog at hand, ``status --state``): only what the store says
    (a flapping or refused escalation) is judged.
    """
    since = window_start((budgets or {}).values(), now)
    starts = store.recovery_starts(since) if budgets else {}
    out: dict[str, Circuit] = {}
    for row in components:
        escalated = None
        if row.state == "escalated":
            latest = store.incidents(row.name, limit=1)
            if latest and latest[0].state == "escalated" and latest[0].escalated_at is not None:
                escalated = (latest[0].escalated_at, latest[0].reason)
        out[row.name] = circuit_of(
            row.name,
            budget=budgets.get(row.name) if budgets else None,
            recovery_starts=starts.get(row.name, []),
            now=now,
            reset_at=row.circuit_reset_at,
            escalated=escalated,
        )
    return out
