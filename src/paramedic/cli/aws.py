"""``paramedic aws VERB``: set up the AWS side of a catalog.

- ``wire-events``: the EventBridge rules and SQS queue that feed the agent's
  ``agent.events_queue`` (event-driven detection).
- ``permissions``: the IAM actions the catalog needs, feature by feature, and a policy.
- ``template``: a CloudFormation template of paramedic's own footprint and the
  AWS-native guard rails of each component.
- ``export-stepfunctions``: a component's recovery ladder as a Step Functions state machine.

Errors are ``ParamedicError`` lines, printed by ``paramedic.cli.main`` (exit 2).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from paramedic.cli.args import CatalogArg, CatalogOpt, either, load
from paramedic.errors import NotFound, ParamedicError

aws_app = typer.Typer(
    help="Set up the AWS side: events, permissions, template, Step Functions.",
    no_args_is_help=True,
)
out = Console(highlight=False, soft_wrap=False)

JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output")]
OutOpt = Annotated[
    str | None, typer.Option("--out", "-o", help="write to this file instead of stdout")
]


def _emit(text: str, path: str | None, what: str) -> None:
    """``text`` to stdout, or to ``path`` with a line saying so."""
    if path is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    try:
        Path(path).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    except OSError as exc:
        raise ParamedicError(f"cannot write {what} to {path}: {exc.strerror}") from exc
    out.print(f"wrote {what} to {path}", markup=False)


@aws_app.command("wire-events")
def wire_events(
    catalog: CatalogArg = None,
    catalog_opt: CatalogOpt = None,
    queue: Annotated[str, typer.Option(help="SQS queue name")] = "paramedic-events",
    rule_prefix: Annotated[str, typer.Option(help="prefix of the EventBridge rules")] = "paramedic",
    as_json: JsonOpt = False,
) -> None:
    """Create (or update) the EventBridge rules and the SQS queue the agent consumes."""
    from paramedic.providers.aws.events import wire_events as wire

    loaded = load(either(catalog, catalog_opt))
    wired = asyncio.run(wire(loaded.aws, queue_name=queue, rule_prefix=rule_prefix))
    shape = {"queue_url": wired.queue_url, "queue_arn": wired.queue_arn, "rules": wired.rules}
    if as_json:
        sys.stdout.write(json.dumps(shape, indent=2) + "\n")
        return
    out.print(f"queue  {wired.queue_url}", markup=False)
    for rule in wired.rules:
        out.print(f"rule   {rule}", markup=False)
    if loaded.agent.events_queue in (queue, wired.queue_url):
        out.print("the catalog's agent.events_queue names this queue: the agent consumes it")
    else:
        out.print(
            f"set `agent: {{events_queue: {queue}}}` in the catalog so the agent consumes it",
            markup=False,
        )


@aws_app.command()
def permissions(
    catalog: CatalogArg = None, catalog_opt: CatalogOpt = None, as_json: JsonOpt = False
) -> None:
    """The IAM actions the catalog needs, feature by feature, and the policy granting them."""
    from paramedic.providers.aws.permissions import actions_by_feature, actions_for

    loaded = load(either(catalog, catalog_opt))
    by_feature = actions_by_feature(loaded)
    actions = actions_for(loaded)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    if as_json:
        shape = {"features": {f: list(a) for f, a in by_feature.items()}, "policy": policy}
        sys.stdout.write(json.dumps(shape, indent=2) + "\n")
        return
    table = Table("feature", "IAM actions", box=None, pad_edge=False)
    for feature, feature_actions in by_feature.items():
        table.add_row(feature, ", ".join(feature_actions))
    out.print(table)
    out.print(
        f"\n{len(actions)} actions in all; `paramedic aws permissions --json` gives the policy "
        "(`paramedic aws template` scopes them to the stack's own resources)",
        markup=False,
    )


@aws_app.command()
def template(
    catalog: CatalogArg = None,
    catalog_opt: CatalogOpt = None,
    out_file: OutOpt = None,
) -> None:
    """A CloudFormation template: paramedic's footprint and each component's guard rails."""
    from paramedic.providers.aws.template import template_yaml

    loaded = load(either(catalog, catalog_opt))
    _emit(template_yaml(loaded), out_file, "the CloudFormation template")


@aws_app.command("export-stepfunctions")
def export_stepfunctions(
    component: Annotated[str, typer.Argument(help="component whose ladder to export")],
    lambda_arn: Annotated[
        str,
        typer.Option(
            help="ARN of paramedic's Lambda entry point (paramedic.providers.aws.lambda_entry.handler)"
        ),
    ],
    catalog: CatalogOpt = None,
    out_file: OutOpt = None,
    create: Annotated[
        bool, typer.Option(help="also create or update the state machine on the endpoint")
    ] = False,
    role_arn: Annotated[
        str | None, typer.Option(help="execution role of the state machine (with --create)")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="state machine name (default: paramedic-COMPONENT)")
    ] = None,
) -> None:
    """Write a component's recovery ladder as an Amazon States Language definition."""
    from paramedic.providers.aws.stepfunctions import create_state_machine, ladder_definition

    loaded = load(catalog)
    if component not in loaded.components:
        known = ", ".join(sorted(loaded.components))
        raise NotFound(f"no component {component!r} in {loaded.source}; known: {known}")
    definition = ladder_definition(loaded, component, lambda_arn)
    _emit(json.dumps(definition, indent=2), out_file, "the state machine definition")
    if create:
        if not role_arn:
            raise ParamedicError("--create needs --role-arn: the state machine's execution role")
        arn = asyncio.run(
            create_state_machine(
                loaded.aws_for(component), name or f"paramedic-{component}", definition, role_arn
            )
        )
        out.print(f"state machine {arn}", markup=False)
