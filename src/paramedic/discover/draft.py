"""The draft catalog: findings written as catalog YAML, every inferred value commented with its source.

``draft_yaml(discovery)`` is what ``discover -o FILE`` writes. The RTO of
each component is the worst case ``paramedic plan`` computes for its ladder
(detection ``interval × failures + timeout`` plus every step's timeout),
rounded up, so the draft has no RTO gap of its own making; what ``plan``
still reports on it is a real gap (no backup where the data needs one).
Findings paramedic has no provider for are written as comments, with their
reason and what depends on them, and left out of ``depends_on``.
"""

from __future__ import annotations

import io
import math
from datetime import timedelta
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from paramedic.catalog.duration import format_duration
from paramedic.catalog.model import Component
from paramedic.discover.finding import Discovery, Finding
from paramedic.discover.impact import Impact, rank


def worst_case_rto(finding: Finding) -> tuple[timedelta, str]:
    """The ladder's worst case as ``plan`` computes it, rounded up, and the sum that gave it."""
    component = Component.model_validate(_plain(finding, timedelta(seconds=1)))
    detect = component.health.worst_case_detect
    ladder = sum((step.timeout for step in component.recovery), timedelta(0))
    total = (detect + ladder).total_seconds()
    unit = 60 if total >= 60 else 1
    rounded = timedelta(seconds=math.ceil(total / unit) * unit)
    why = (
        f"worst case: {format_duration(detect)} to detect + {format_duration(ladder)} of step "
        f"timeouts ({len(component.recovery)} steps), rounded up"
    )
    return rounded, why


def _plain(finding: Finding, rto: timedelta) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": finding.type,
        "location": finding.location,
        "constraint": finding.constraint,
        "criticality": finding.criticality,
        "rto": format_duration(rto),
        "rpo": format_duration(finding.rpo),
        "provider": finding.provider,
        "spec": finding.spec,
        "health": finding.health,
    }
    if finding.backup:
        data["backup"] = finding.backup
    data["recovery"] = finding.recovery
    return data


def draft_catalog(discovery: Discovery) -> CommentedMap:
    """The draft as a commented YAML mapping (components only for findings with a provider)."""
    catalogued = {f.name for f in discovery.findings if f.catalogued}
    impacts = {i.name: i for i in rank(discovery.findings)}
    top = CommentedMap()
    top["version"] = 1
    top["location"] = discovery.scope.split(" ", 1)[-1].split(",")[0]
    top.yaml_add_eol_comment("where discovery looked; each component names its own", "location")
    top["state"] = "sqlite:///paramedic.db"
    if discovery.aws:
        top["aws"] = CommentedMap(discovery.aws)
    components = CommentedMap()
    for finding in sorted(
        (f for f in discovery.findings if f.catalogued), key=lambda f: impacts[f.name].rank
    ):
        region = discovery.aws.get("region")
        components[finding.name] = _component(finding, impacts[finding.name], catalogued, region)
    top["components"] = components
    return top


def _component(
    finding: Finding, impact: Impact, catalogued: set[str], region: str | None
) -> CommentedMap:
    rto, rto_why = worst_case_rto(finding)
    plain = _plain(finding, rto)
    node = CommentedMap()
    for key in ("type", "location", "constraint", "criticality", "rto", "rpo"):
        node[key] = plain[key]
    node["depends_on"] = CommentedSeq(d for d in finding.depends_on if d in catalogued)
    node["provider"] = plain["provider"]
    node["spec"] = _map(plain["spec"], finding.sources, "spec")
    node["health"] = _map(plain["health"], finding.sources, "health")
    if "backup" in plain:
        node["backup"] = _map(plain["backup"], finding.sources, "backup")
    node["recovery"] = CommentedSeq(CommentedMap(step) for step in plain["recovery"])
    if finding.region and region and finding.region != region:
        node["aws"] = CommentedMap({"region": finding.region})
    sources = finding.sources
    node.yaml_add_eol_comment(f"discovered: {finding.kind} {finding.resource}", "type")
    node.yaml_add_eol_comment(sources.get("location", "discovered"), "location")
    node.yaml_add_eol_comment(sources.get("criticality", ""), "criticality")
    node.yaml_add_eol_comment(rto_why, "rto")
    node.yaml_add_eol_comment(sources.get("rpo", "proposed"), "rpo")
    node.yaml_add_eol_comment(_deps_comment(finding, catalogued), "depends_on")
    node.yaml_set_comment_before_after_key(
        "type", before=f"blast radius: {impact.line()}", indent=4
    )
    if "health" in sources:
        node.yaml_add_eol_comment(sources["health"], "health")
    if "recovery" in sources:
        node.yaml_add_eol_comment(sources["recovery"], "recovery")
    return node


def _deps_comment(finding: Finding, catalogued: set[str]) -> str:
    if not finding.depends_on:
        return "no dependency found (security groups, target groups, tags)"
    parts = []
    for dep in finding.depends_on:
        why = finding.sources.get(f"depends_on.{dep}", "")
        shown = dep if dep in catalogued else f"{dep} (not catalogued)"
        parts.append(f"{shown}: {why}")
    return "; ".join(parts)


def _map(values: dict[str, Any], sources: dict[str, str], prefix: str) -> CommentedMap:
    node = CommentedMap()
    for key, value in values.items():
        node[key] = CommentedSeq(value) if isinstance(value, list) else value
        why = sources.get(f"{prefix}.{key}")
        if why:
            node.yaml_add_eol_comment(why, key)
    return node


def draft_yaml(discovery: Discovery) -> str:
    """The whole draft file: a header, the catalog, and the findings without a provider."""
    yaml = YAML()
    yaml.width = 4096  # one line per value: constraints are long sentences
    yaml.indent(mapping=2, sequence=4, offset=2)
    buffer = io.StringIO()
    yaml.dump(draft_catalog(discovery), buffer)
    header = [
        f"# paramedic discover {discovery.scope}: {discovery.summary()}",
        "# A draft: check each value against its comment, then `paramedic plan` this file.",
    ]
    header += [f"# left out: {o.kind} {o.resource}: {o.reason}" for o in discovery.left_out]
    header += [f"# not seen: {note}" for note in discovery.notes]
    if not any(f.catalogued for f in discovery.findings):
        header.append("# nothing found that paramedic can recover: components is empty")
    body = buffer.getvalue()
    tail = _uncatalogued(discovery)
    return "\n".join(header) + "\n" + body + tail


def _uncatalogued(discovery: Discovery) -> str:
    others = [f for f in discovery.findings if not f.catalogued]
    if not others:
        return ""
    impacts = {i.name: i for i in rank(discovery.findings)}
    lines = ["", "# Single-location, but paramedic has no provider for them (not components):"]
    for f in sorted(others, key=lambda f: impacts[f.name].rank):
        lines.append(f"#   {f.name}: {f.kind} {f.resource} in {f.location}: {f.constraint}")
        if f.depends_on:
            lines.append(f"#     depends on: {', '.join(f.depends_on)}")
        lines.append(f"#     blast radius: {impacts[f.name].line()}")
        lines.append(f"#     {f.unsupported}")
    return "\n".join(lines) + "\n"
