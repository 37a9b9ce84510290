"""``paramedic audit verify``: the hash-chained audit log checked row by row."""

from __future__ import annotations

import typer

from paramedic.cli.app import app, open_store, out, print_json
from paramedic.cli.args import (
    CatalogOpt,
    JsonOpt,
    StateOpt,
)

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    catalog: CatalogOpt = None, state: StateOpt = None, as_json: JsonOpt = False
) -> None:
    """Check the audit log's hash chain: exit 0 intact, 1 tampered."""
    store = open_store(catalog, state)
    try:
        verdict = store.verify_audit()
    finally:
        store.close()
    if as_json:
        print_json(verdict.to_json())
    else:
        out.print(verdict.reason)
    raise typer.Exit(0 if verdict.ok else 1)
