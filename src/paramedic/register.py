"""Make the state store know a catalog's components (before anything refers to them)."""

from __future__ import annotations

from collections.abc import Iterable

from paramedic.catalog.model import Catalog
from paramedic.store import Store
from paramedic.store.components import ComponentFacts


def register_components(store: Store, catalog: Catalog, names: Iterable[str] | None = None) -> None:
    """Insert or refresh the store's row of each component (all of the catalog's by default),
    in one transaction."""
    facts = []
    for name in names if names is not None else catalog.components:
        comp = catalog.components[name]
        facts.append(
            ComponentFacts(
                name=name,
                type=comp.type.value,
                location=catalog.location_of(name),
                criticality=comp.criticality.value,
                provider=comp.provider,
                rto_s=comp.rto.total_seconds(),
                rpo_s=comp.rpo.total_seconds(),
            )
        )
    store.upsert_components(facts)
