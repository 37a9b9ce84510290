"""The command line: ``paramedic VERB``.

Every error a user can cause prints one line on stderr and exits 2; no
traceback reaches a user (``PARAMEDIC_DEBUG=1`` shows it for a bug report).
The verbs live in one module per group; importing them registers them on
``app`` in the order ``paramedic --help`` lists them.
"""

from __future__ import annotations

import os
import traceback
from typing import Annotated

import typer
from typer._click import exceptions as click_exc  # typer vendors click since 0.20

from paramedic import __version__

# The order of these imports is the order `paramedic --help` lists the verbs; each module
# registers its verbs on `app` when imported.
# isort: off
from paramedic.cli import catalog_verbs  # noqa: F401
from paramedic.cli import agent_verbs  # noqa: F401
from paramedic.cli import agents  # noqa: F401
from paramedic.cli import recovery_verbs  # noqa: F401
from paramedic.cli import data_verbs  # noqa: F401
from paramedic.cli import evidence_verbs  # noqa: F401
from paramedic.cli import audit  # noqa: F401

# isort: on
from paramedic.cli.app import app, err, out
from paramedic.cli.aws import aws_app
from paramedic.cli.discover import discover_app
from paramedic.errors import CatalogError, ParamedicError

app.add_typer(aws_app, name="aws")
app.add_typer(discover_app, name="discover")


def _version(value: bool) -> None:
    if value:
        out.print(f"paramedic {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version")
    ] = False,
) -> None:
    """paramedic: automated recovery for components constrained to a single location."""


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``paramedic`` command; returns the exit code."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="paramedic")
        return int(result) if isinstance(result, int) else 0
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        err.print("paramedic: aborted")
        return 130
    except click_exc.NoArgsIsHelpError as exc:
        out.print(exc.format_message(), markup=False)
        return 0
    except click_exc.ClickException as exc:
        err.print(f"paramedic: {exc.format_message()} (see paramedic --help)", markup=False)
        return 2
    except CatalogError as exc:
        for problem in exc.problems:
            err.print(str(problem), markup=False)
        return 2
    except ParamedicError as exc:
        err.print(f"paramedic: {exc}", markup=False)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("PARAMEDIC_DEBUG"):
            traceback.print_exc()
        err.print(
            f"paramedic: internal error: {type(exc).__name__}: {exc} "
            "(a bug; PARAMEDIC_DEBUG=1 shows the traceback for a report)",
            markup=False,
        )
        return 2
