"""Where a recovery asked for by hand goes: the owning agent's own queue, read from the store.

Several agents share the workflow database; each run polls its own DBOS queue
(``durable.takeover_queue``). The CLI and the API put a manual recovery on the
queue of the agent that owns the component now (the division computed from the
live leases, the recovering agents and the recorded hosts, as every agent
computes it), so no other agent dequeues it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from paramedic.agent.lease import is_live
from paramedic.agent.membership import member_of
from paramedic.agent.ownership import divide, placement_of
from paramedic.recovery import durable

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog
    from paramedic.store import LeaseRow, Store


def owner_run(store: Store, catalog: Catalog, component: str) -> LeaseRow | None:
    """The live lease of the agent that owns ``component``; None when no live agent may."""
    ttl = catalog.agent.lease_ttl.total_seconds()
    live = [x for x in store.leases() if is_live(x.age_s, ttl)]
    owners = divide(
        {component: placement_of(catalog.components[component])},
        [member_of(x) for x in live],
        store.recovering_agents(),
        store.component_hosts(),
    )
    return next((x for x in live if x.name == owners[component]), None)


def manual_queue(store: Store, catalog: Catalog, component: str) -> str | None:
    """The DBOS queue a manual recovery of ``component`` goes to; None when no agent runs it.

    On SQLite (one agent) the shared queue, which that agent polls.
    """
    if store.dialect != "postgresql":
        return durable.QUEUE
    run = owner_run(store, catalog, component)
    return None if run is None else durable.takeover_queue(run.executor_id)
