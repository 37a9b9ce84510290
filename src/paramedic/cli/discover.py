"""``paramedic discover aws|local``: a draft catalog of the single-location components, or drift.

Exit 0 (no drift, or no ``--against``), 1 drift found with ``--against``, 2
bad input (no credentials, unreachable endpoint, an existing ``-o`` file
without ``--force``), printed as one line by ``paramedic.cli.main``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from paramedic.errors import ParamedicError

discover_app = typer.Typer(
    help="Find the single-location components: a draft catalog, or drift against one.",
    no_args_is_help=True,
)
err = Console(stderr=True, highlight=False, soft_wrap=True)

OutOpt = Annotated[str | None, typer.Option("--out", "-o", help="write the draft catalog to FILE")]
ForceOpt = Annotated[bool, typer.Option("--force", help="overwrite an existing -o FILE")]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output (README)")]
AgainstOpt = Annotated[
    str | None,
    typer.Option("--against", help="compare with this catalog: exit 1 when it has drifted"),
]


@discover_app.command("aws")
def aws(
    region: Annotated[
        list[str] | None, typer.Option("--region", help="region to read (repeatable)")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="only resources tagged KEY=VALUE (repeatable)")
    ] = None,
    out_file: OutOpt = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
    against: AgainstOpt = None,
) -> None:
    """Read the AWS account (standard credentials, AWS_ENDPOINT_URL) for single-AZ resources."""
    from paramedic.catalog.aws import AwsSettings
    from paramedic.discover.aws import discover_aws

    tags = _tags(tag or [])
    catalog = _catalog(against)
    settings = catalog.aws if catalog is not None else AwsSettings()
    endpoint = settings.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    default_region = (
        settings.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    settings = settings.model_copy(update={"endpoint_url": endpoint, "region": default_region})
    discovery = asyncio.run(discover_aws(settings, region or [], tags))
    _finish(discovery, out_file, force, as_json, catalog, aws_side=True)


@discover_app.command("local")
def local(
    out_file: OutOpt = None,
    force: ForceOpt = False,
    as_json: JsonOpt = False,
    against: AgainstOpt = None,
    backup_dir: Annotated[
        str, typer.Option("--backup-dir", help="where the proposed backups of data services go")
    ] = "/var/backups/paramedic",
) -> None:
    """This host's listening services (PostgreSQL, Redis, HAProxy, HTTP, TCP) as draft components."""
    from paramedic.discover.local import discover_local

    catalog = _catalog(against)
    discovery = discover_local(backup_dir=backup_dir)
    _finish(discovery, out_file, force, as_json, catalog, aws_side=False)


def _tags(pairs: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ParamedicError(f"--tag {pair!r}: give KEY=VALUE, e.g. --tag team=orders")
        tags[key] = value
    return tags


def _catalog(path: str | None) -> Any:
    if path is None:
        return None
    from paramedic.cli.args import load

    return load(path)


def _finish(
    discovery: Any, out_file: str | None, force: bool, as_json: bool, catalog: Any, aws_side: bool
) -> None:
    from paramedic.discover.draft import draft_yaml
    from paramedic.discover.drift import drift_json, find_drift
    from paramedic.discover.impact import rank

    text = draft_yaml(discovery)
    if out_file is not None:
        _write(Path(out_file), text, force)
    drifts = find_drift(catalog, discovery, aws=aws_side) if catalog is not None else None
    if as_json:
        shape: dict[str, Any] = discovery_json(discovery, rank(discovery.findings))
        if drifts is not None:
            shape["against"] = drift_json(drifts, catalog)
        sys.stdout.write(json.dumps(shape, indent=2) + "\n")
    elif drifts is not None:
        for drift in drifts:
            sys.stdout.write(drift.line() + "\n")
        sys.stdout.write(
            f"{len(drifts)} drift{'' if len(drifts) == 1 else 's'} against {catalog.source}\n"
        )
    elif out_file is None:
        sys.stdout.write(text)
    if out_file is not None or drifts is not None or as_json:
        err.print(discovery.summary(), markup=False)
        for note in discovery.notes:
            err.print(f"not seen: {note}", markup=False)
    if out_file is not None and not as_json:
        for impact in rank(discovery.findings):
            err.print(impact.line(), markup=False)
        err.print(f"wrote the draft catalog to {out_file}; next: paramedic plan {out_file}")
    if drifts:
        raise typer.Exit(1)


def _write(path: Path, text: str, force: bool) -> None:
    if path.exists() and not force:
        raise ParamedicError(f"{path} exists: give --force to overwrite it, or another -o FILE")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ParamedicError(f"cannot write the draft to {path}: {exc.strerror}") from exc


def discovery_json(discovery: Any, impacts: list[Any]) -> dict[str, Any]:
    """The ``discover --json`` shape: scope, counts, findings with blast radius, left out, notes."""
    by_name = {i.name: i for i in impacts}
    return {
        "scope": discovery.scope,
        "summary": {
            "seen": discovery.seen,
            "single_location": len(discovery.findings),
            "catalogued": sum(1 for f in discovery.findings if f.catalogued),
            "left_out": len(discovery.left_out),
        },
        "findings": [
            {
                **f.to_json(),
                "dependents": by_name[f.name].dependents,
                "impact_rank": by_name[f.name].rank,
            }
            for f in sorted(discovery.findings, key=lambda f: by_name[f.name].rank)
        ],
        "left_out": [o.to_json() for o in discovery.left_out],
        "notes": list(discovery.notes),
    }
