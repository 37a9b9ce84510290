"""Recoveries asked for by hand (``paramedic recover``), through the same durable workflow.

When an agent runs for the catalog, the incident is written to the store and
the recovery is enqueued on the agent's DBOS queue, so the process that owns
the component carries it out. When none runs, this process builds the same
engine for the one component and runs the workflow itself.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from paramedic.catalog.model import Catalog
from paramedic.checks import run_check
from paramedic.checks.result import CheckResult
from paramedic.clock import RealClock
from paramedic.errors import NotFound, Refused
from paramedic.notify import Notifier
from paramedic.providers.registry import build_provider
from paramedic.recovery import actions, durable, workflow
from paramedic.recovery.engine import RecoveryEngine
from paramedic.recovery.ladder import plan_ladder
from paramedic.register import register_components
from paramedic.store import Store


def _component(catalog: Catalog, name: str) -> None:
    if name not in catalog.components:
        known = ", ".join(sorted(catalog.components))
        raise NotFound(f"no component {name!r} in {catalog.source}; known: {known}")


def dry_run_plan(
    catalog: Catalog, name: str, only: str | None, target: str | None = None
) -> list[dict[str, Any]]:
    """What ``recover`` would do, step by step, without doing it."""
    _component(catalog, name)
    ladder = plan_ladder(name, catalog.components[name], only)
    provider = build_provider(catalog, name)

    def aimed(strategy: Any) -> Any:
        if target is not None and strategy.strategy == "restore_from_backup":
            return strategy.model_copy(update={"target": target})
        return strategy

    return [
        {
            "seq": step.seq,
            "strategy": step.name,
            "does": actions.describe(provider, aimed(step.strategy)),
            "timeout_s": step.strategy.timeout.total_seconds(),
            "approval": step.strategy.needs_approval,
        }
        for step in ladder
    ]


def recover_by_hand(
    catalog: Catalog,
    name: str,
    only: str | None,
    progress: Callable[[str], None] = lambda _m: None,
    target: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Open a manual incident and run its recovery; returns the incident as ``history --json`` shows it.

    ``force`` bypasses an open circuit (the budget is spent); the bypass is audited.
    """
    _component(catalog, name)
    plan_ladder(
        name, catalog.components[name], only
    )  # refuse a bad --strategy before writing anything
    store = Store.open(catalog.state_url())
    try:
        incident = open_manual_incident(catalog, store, name, only, target, force=force)
        queue = _queue_of_running_agent(catalog, store, name)
        if queue is not None:
            progress(f"{incident.id}: handed to the running agent")
            client = durable.DurableClient(catalog.state_url())
            try:
                client.enqueue_recovery(incident.id, only, target, force, queue=queue)
                client.result(incident.id)
            finally:
                client.close()
        else:
            progress(f"{incident.id}: no agent runs for this catalog; recovering from this process")
            asyncio.run(_run_here(catalog, store, name, incident.id, only, target, force))
        final = store.incident(incident.id)
        result = final.to_json()
        result["steps"] = [s.to_json() for s in store.steps(incident.id)]
        return result
    finally:
        store.close()


def _queue_of_running_agent(catalog: Catalog, store: Store, name: str) -> str | None:
    """The queue of the agent that runs ``name`` now, or None when none does.

    With a shared PostgreSQL store the live leases decide (an agent on another host counts;
    this host's lock does not); on SQLite the run dir's lock.
    """
    from paramedic.lock import agent_running

    if store.dialect == "postgresql":
        from paramedic.agent.routing import manual_queue

        return manual_queue(store, catalog, name)
    return durable.QUEUE if agent_running(catalog.resolve_path(catalog.agent.run_dir)) else None


def open_manual_incident(
    catalog: Catalog,
    store: Store,
    name: str,
    only: str | None,
    target: str | None = None,
    *,
    actor: str = "operator",
    force: bool = False,
) -> Any:
    """Write the manual incident a recovery by hand runs under; Refused while one is open.

    ``force`` (past an open circuit) is said in the reason and audited under ``actor``.
    """
    _component(catalog, name)
    plan_ladder(name, catalog.components[name], only)  # a bad strategy is refused first
    open_one = store.open_incident_of(name)
    if open_one is not None:
        raise Refused(
            f"{name} already has an open incident {open_one.id} ({open_one.state}); "
            f"one recovery at a time — see `paramedic history {name}`"
        )
    now = RealClock().now()
    comp = catalog.components[name]
    register_components(store, catalog, [name])
    by = "" if actor == "operator" else f" by {actor}"
    incident = store.open_incident(
        component=name,
        kind="manual",
        failed_at=now,
        detected_at=now,
        failure=None,
        reason=f"recovery asked for by hand{by}{f' (strategy {only})' if only else ''}"
        + (f" to {target}" if target else "")
        + (" (--force: past an open circuit)" if force else ""),
        target_rto_s=comp.rto.total_seconds(),
        target_rpo_s=comp.rpo.total_seconds(),
    )
    if force:  # who asked to pass an open circuit; the engine records whether it was open
        store.audit(
            actor=os.environ.get("USER") or actor if actor == "operator" else actor,
            action="recovery.forced",
            subject=incident.id,
            detail={"component": name, "strategy": only},
        )
    return incident


async def _run_here(
    catalog: Catalog,
    store: Store,
    name: str,
    incident_id: str,
    only: str | None,
    target: str | None,
    force: bool,
) -> None:
    from dbos import DBOS, SetWorkflowID

    clock = RealClock()
    provider = build_provider(catalog, name)
    health = catalog.components[name].health

    async def check(component: str) -> CheckResult:
        return await run_check(health, clock=clock, process_probe=provider)  # type: ignore[arg-type]

    notifier = Notifier(catalog.notify, clock=clock, aws=catalog.aws)
    engine = RecoveryEngine(
        catalog=catalog,
        store=store,
        clock=clock,
        providers={name: provider},
        check=check,
        notifier=notifier,
        actor="operator",
    )
    workflow.install(engine)
    await provider.start()
    await durable.launch(catalog.state_url(), executor_id="cli")
    try:
        with SetWorkflowID(incident_id):
            handle = await DBOS.start_workflow_async(
                workflow.recovery_workflow, incident_id, only, target, force
            )
        await handle.get_result()
    finally:
        await notifier.drain(10.0)
        await notifier.aclose()
        await provider.close(False)
        durable.shutdown()
        workflow.install(None)
