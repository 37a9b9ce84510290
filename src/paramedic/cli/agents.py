"""``paramedic agents [--json]``: the agents sharing one state store, their leases and shares.

The shares are computed as every agent computes them (``agent/ownership.py``)
from the leases and the open incidents in the store, so what this command
shows is what the agents do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paramedic.cli.app import app, open_store, out, print_json
from paramedic.cli.args import CatalogOpt, JsonOpt, StateOpt, load

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog
    from paramedic.store import Store

DEFAULT_TTL_S = 10.0
"""The lease ttl assumed when only ``--state`` is given (the catalog's default)."""


def division(store: Store, catalog: Catalog | None) -> tuple[dict[str, str | None], float]:
    """Component → owning agent (None: no live agent may own it), and the ttl used."""
    # Imported here: paramedic.agent pulls in the whole agent, which other commands never need.
    from paramedic.agent.lease import is_live
    from paramedic.agent.membership import member_of
    from paramedic.agent.ownership import Placement, divide, placements

    ttl = catalog.agent.lease_ttl.total_seconds() if catalog is not None else DEFAULT_TTL_S
    members = [member_of(x) for x in store.leases() if is_live(x.age_s, ttl)]
    if catalog is not None:
        places = placements(catalog)
    else:
        places = {c.name: Placement() for c in store.components()}
    return divide(places, members, store.recovering_agents(), store.component_hosts()), ttl


def agents_report(store: Store, catalog: Catalog | None) -> dict[str, Any]:
    """The ``--json`` shape of ``paramedic agents``."""
    from paramedic.agent.lease import is_live
    from paramedic.agent.ownership import shares

    owners, ttl = division(store, catalog)
    counts = shares(owners)
    rows = []
    for lease in store.leases():
        live = is_live(lease.age_s, ttl)
        rows.append(
            {
                "name": lease.name,
                "host": lease.host,
                "pid": lease.pid,
                "run_start": lease.to_json()["run_start"],
                "renewed_at": lease.to_json()["renewed_at"],
                "lease_age_s": round(lease.age_s, 3),
                "live": live,
                "owns": counts.get(lease.name, 0) if live else 0,
                "tags": list(lease.tags),
            }
        )
    unowned = sorted(n for n, a in owners.items() if a is None)
    return {"lease_ttl_s": ttl, "agents": rows, "unowned": unowned}


@app.command()
def agents(catalog: CatalogOpt = None, state: StateOpt = None, as_json: JsonOpt = False) -> None:
    """The agents sharing this state store: their leases and how many components each owns."""
    loaded = None if state else load(catalog)
    store = open_store(catalog, state)
    try:
        report = agents_report(store, loaded)
    finally:
        store.close()
    if as_json:
        print_json(report)
        return
    if not report["agents"]:
        out.print("no agent has run on this state store yet")
        return
    for row in report["agents"]:
        state_word = "live" if row["live"] else "dead"
        out.print(
            f"{row['name']}  {state_word}  lease {row['lease_age_s']:.1f}s old  "
            f"owns {row['owns']}  (pid {row['pid']} on {row['host']})",
            markup=False,
        )
    if report["unowned"]:
        out.print(
            f"{len(report['unowned'])} component(s) no live agent may own: "
            f"{', '.join(report['unowned'][:10])}",
            markup=False,
        )
