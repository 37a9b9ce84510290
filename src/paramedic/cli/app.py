"""The ``paramedic`` Typer app and what every verb module shares: consoles, the store, JSON."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Any, NoReturn

import typer
from rich.console import Console

from paramedic.cli.args import load
from paramedic.errors import NotBuiltYet

app = typer.Typer(
    name="paramedic",
    help="Keeps single-location components recovering by themselves.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class LogFormat(StrEnum):
    """How the agent writes its decision log."""

    text = "text"
    json = "json"


def open_store(catalog_path: str | None, state: str | None) -> Any:
    """The existing store named by ``--state``, else by the catalog's ``state:``.

    Never creates one: a command reading or answering the agent's state on a store that is not
    there (a typo, no agent ever started) must say so, not report an empty world.
    """
    from paramedic.store import Store

    if state:
        return Store.open(state, create=False)
    catalog = load(catalog_path)
    return Store.open(catalog.state_url(), create=False)


def print_json(data: Any) -> None:
    """Write ``data`` as indented JSON on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def not_built(verb: str, capability: str, issue: str) -> NoReturn:
    """Refuse a verb whose capability is not built yet, naming the issue."""
    raise NotBuiltYet(
        f"`paramedic {verb}` needs {capability}, which is not built yet in this version ({issue})"
    )
