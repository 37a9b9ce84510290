"""Verbs on the catalog itself: ``validate``, ``schema``, ``plan``."""

from __future__ import annotations

from paramedic.cli.app import app, out, print_json
from paramedic.cli.args import (
    CatalogArg,
    CatalogOpt,
    JsonOpt,
    either,
    load,
)


@app.command()
def validate(catalog: CatalogArg = None, catalog_opt: CatalogOpt = None) -> None:
    """Check the catalog; print every problem, one line each (exit 0 valid, 2 invalid)."""
    loaded = load(either(catalog, catalog_opt))
    n = len(loaded.components)
    out.print(f"{loaded.source}: valid ({n} component{'s' if n != 1 else ''})")


@app.command()
def schema() -> None:
    """Print the catalog's JSON Schema (for editor completion; see the README)."""
    from paramedic.catalog.schema import catalog_schema

    print_json(catalog_schema())


@app.command()
def plan(
    catalog: CatalogArg = None, catalog_opt: CatalogOpt = None, as_json: JsonOpt = False
) -> None:
    """Inventory, blast radius, recovery plan per failure, and gaps against the objectives."""
    from paramedic.plan import analyze

    result = analyze(load(either(catalog, catalog_opt)))
    if as_json:
        print_json(result.to_json())
        return
    from paramedic.views.plan import render_plan

    render_plan(result, out)
