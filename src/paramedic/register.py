"""Make the state store know a catalog's components (before anything refers to them)."""

from __future__ import annotations

from collections.abc import Iterable

from paramedic.catalog.model import Catalog
from paramedic.store import Store


def register_components(store: Store, catalog: Catalog, names: Iterable[str] | None = None) -> None:
    """Insert or refresh the store's row of each component (all of the catalog's by default)."""
    for name in names if names is not None else catalog.components:
        comp = catalog.components[name]
        store.upsert_component(
            name,
            type=comp.type.value,
            location=catalog.location_of(name),
            criticality=comp.criticality.value,
            provider=comp.provider,
            rto_s=comp.rto.total_seconds(),
            rpo_s=comp.rpo.total_seconds(),
        )
