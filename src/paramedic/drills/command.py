"""What ``paramedic drill`` does: run one drill from the command line, or list what can be drilled."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from typing import Any

from paramedic.catalog.model import Catalog
from paramedic.clock import RealClock
from paramedic.drills.runner import DrillResult, DrillRunner
from paramedic.notify import NotificationRecord, Notifier
from paramedic.providers.registry import provider_info
from paramedic.store import Store

NOTIFY_DRAIN_S = 15.0


def run_drill(
    catalog: Catalog,
    component: str,
    fault: str,
    *,
    yes: bool = False,
    warmup_s: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> DrillResult:
    """Run one drill against the catalog's running agent; notifications delivered before returning.

    DrillRefused (exit 2) when a guard says no; otherwise the result, whatever the verdict.
    """
    store = Store.open(catalog.state_url())

    def record(entry: NotificationRecord) -> None:
        store.record_notification(
            incident_id=entry.incident_id,
            route=entry.route,
            event=entry.event.value,
            at=entry.at,
            status=entry.status,
            attempts=entry.attempts,
            error=entry.error or "",
        )

    async def drill() -> DrillResult:
        notifier = Notifier(catalog.notify, clock=RealClock(), record=record, aws=catalog.aws)
        try:
            runner = DrillRunner(catalog, store, notifier=notifier, progress=progress)
            if warmup_s is not None:
                runner.warmup_s = warmup_s
            return await runner.run(component, fault, yes=yes)
        finally:
            await notifier.drain(NOTIFY_DRAIN_S)
            await notifier.aclose()

    try:
        return asyncio.run(drill())
    finally:
        store.close()


def _can_inject(implementation: str | None) -> bool:
    """True when the provider's implementation class has ``inject_fault`` (imported, not built)."""
    if implementation is None:
        return False
    module_name, _, class_name = implementation.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        return False
    return callable(getattr(cls, "inject_fault", None))


def drill_list(catalog: Catalog) -> list[dict[str, Any]]:
    """Each component: the faults its provider offers, those allowed, whether and when it may be drilled.

    The ``drill --list --json`` shape: ``name``, ``provider``, ``faults`` (offered),
    ``allowed_faults`` (``drills.faults``, else all offered), ``can_inject`` (the provider's
    faults are built), ``allowed``, ``window``, ``schedule``, ``abort_after_s``.
    """
    rows = []
    for name, component in catalog.components.items():
        info = provider_info(component.provider)
        offered = list(info.faults)
        listed = [f for f in component.drills.faults] or offered
        abort_after = component.drills.abort_after or component.rto * 2
        rows.append(
            {
                "name": name,
                "provider": component.provider,
                "faults": offered,
                "allowed_faults": listed,
                "can_inject": bool(offered) and _can_inject(info.implementation),
                "allowed": component.drills.allowed,
                "window": component.drills.window,
                "schedule": component.drills.schedule,
                "abort_after_s": abort_after.total_seconds(),
            }
        )
    return rows
