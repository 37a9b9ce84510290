"""Arguments and options every ``paramedic`` command group shares, and loading the catalog they name."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

DEFAULT_CATALOG = "paramedic.yaml"

CatalogArg = Annotated[
    str | None,
    typer.Argument(
        help="catalog file (default: $PARAMEDIC_CATALOG or ./paramedic.yaml)", show_default=False
    ),
]
CatalogOpt = Annotated[
    str | None,
    typer.Option(
        "--catalog", "-c", help="catalog file (default: $PARAMEDIC_CATALOG or ./paramedic.yaml)"
    ),
]
StateOpt = Annotated[
    str | None, typer.Option("--state", help="state store URL; default: `state:` of the catalog")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="machine-readable output (shapes in the README)")
]


def default_catalog() -> str:
    """``$PARAMEDIC_CATALOG``, else ``./paramedic.yaml``."""
    return os.environ.get("PARAMEDIC_CATALOG", DEFAULT_CATALOG)


def load(path: str | None) -> Any:
    """The catalog at ``path`` (default: ``default_catalog()``); CatalogError lists every problem."""
    from paramedic.catalog.loader import load_catalog

    return load_catalog(path or default_catalog())
