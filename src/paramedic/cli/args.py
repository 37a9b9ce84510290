"""Arguments and options every ``paramedic`` command group shares, and finding and loading the
catalog they name.

Every verb finds its catalog the same way (``resolve_catalog``): the path given (the positional
argument of ``validate``/``plan``/``run``, or ``-c/--catalog`` of any verb), else
``$PARAMEDIC_CATALOG``, else ``./paramedic.yaml``, else the catalog of the one agent running
from the current folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from paramedic.errors import CatalogError, Problem

DEFAULT_CATALOG = "paramedic.yaml"
CATALOG_ENV = "PARAMEDIC_CATALOG"
_WHERE = "default: $PARAMEDIC_CATALOG, ./paramedic.yaml, or the catalog of the agent running here"
FIX = "pass it with -c PATH or set PARAMEDIC_CATALOG"
"""The hint of every message about a catalog that cannot be found."""

CatalogArg = Annotated[
    str | None, typer.Argument(help=f"catalog file ({_WHERE})", show_default=False)
]
CatalogOpt = Annotated[
    str | None, typer.Option("--catalog", "-c", help=f"catalog file ({_WHERE})", show_default=False)
]
StateOpt = Annotated[
    str | None, typer.Option("--state", help="state store URL; default: `state:` of the catalog")
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="machine-readable output (shapes in the README)")
]


def either(positional: str | None, option: str | None) -> str | None:
    """The catalog of a verb taking both forms; both given and different is an error."""
    if positional and option and positional != option:
        raise typer.BadParameter(
            f"two catalogs given ({positional} and -c {option}); give one", param_hint="CATALOG"
        )
    return positional or option


def resolve_catalog(given: str | None, *, cwd: Path | None = None) -> str:
    """The catalog a verb uses: ``given``, ``$PARAMEDIC_CATALOG``, ``./paramedic.yaml``, or
    the catalog of the one agent running from ``cwd``; a CatalogError naming the fix otherwise."""
    if given:
        return given
    if os.environ.get(CATALOG_ENV):
        return os.environ[CATALOG_ENV]
    here = cwd or Path.cwd()
    if (here / DEFAULT_CATALOG).exists():
        return DEFAULT_CATALOG
    from paramedic.lock import agents_here

    running = agents_here(here)
    if len(running) == 1:
        return str(running[0].catalog)
    if running:
        listed = ", ".join(f"{a.catalog} (pid {a.pid})" for a in running)
        message = f"no such file, and {len(running)} agents run from this folder: {listed}; {FIX}"
    else:
        message = f"no such file here, and no agent runs from this folder; {FIX}"
    raise CatalogError([Problem(DEFAULT_CATALOG, None, "", message)])


def default_catalog() -> str:
    """The catalog a verb given none uses (see ``resolve_catalog``)."""
    return resolve_catalog(None)


def load(path: str | None) -> Any:
    """The catalog at ``path`` (default: ``resolve_catalog``); CatalogError lists every problem."""
    from paramedic.catalog.loader import load_catalog

    return load_catalog(resolve_catalog(path))
