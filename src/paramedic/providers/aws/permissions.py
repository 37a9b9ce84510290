"""Least privilege: the IAM actions a catalog's AWS features call, and nothing else.

A *feature* is one thing paramedic may do in an account, named by a key:
``aws.ec2:replace_instance`` (a strategy of a provider), ``check:aws.rds_status``,
``fault:aws.ec2:stop-instance``, ``repoint:route53``, ``backup:aws_backup``,
``run:lambda``, ``notify:sns``, ``agent:claims``, and what the agent does of itself
for a component: ``start:aws.rds`` (the provider's ``start``) and ``rpo_watch:aws.rds``
(the ``rpo_at_risk`` watch of a provider keeping its own recovery points, for a
component without ``backup:``). Each module that calls AWS exports
``IAM_ACTIONS: dict[str, tuple[str, ...]]`` mapping the features it implements to
the actions it calls (where the module declares its calls with ``iam.calls``, summed
from those declarations). ``features_for`` reads a catalog into feature keys;
``actions_for`` turns them into the sorted action list of the agent's IAM policy,
and refuses a feature no module lists, so a new feature cannot silently go without
its permission.
"""

from __future__ import annotations

import importlib
import re
from typing import TYPE_CHECKING, Any

from paramedic.catalog.model import BackupEngine, Run
from paramedic.errors import NotBuiltYet
from paramedic.providers.registry import PROVIDERS

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog, Component

FEATURE_MODULES: tuple[str, ...] = (
    "paramedic.providers.aws.ec2",
    "paramedic.providers.aws.asg",
    "paramedic.providers.aws.elbv2",
    "paramedic.providers.aws.route53",
    "paramedic.providers.aws.rds",
    "paramedic.providers.aws.elasticache",
    "paramedic.providers.aws.aws_backup",
    "paramedic.providers.aws.lambda_run",
    "paramedic.providers.aws.events",
    "paramedic.providers.aws.metrics",
    "paramedic.providers.aws.stepfunctions",
    "paramedic.providers.aws.claims",
    "paramedic.checks.aws_cloudwatch",
    "paramedic.checks.aws_data",
    "paramedic.notify.sns",
)
"""The modules whose ``IAM_ACTIONS`` together cover every AWS feature (a fixed list, on purpose)."""

IAM_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*]+$")

# ec2 spec key -> the re-pointing feature it turns on
_EC2_REPOINTS = {
    "target_group_arns": "repoint:target_group",
    "route53": "repoint:route53",
    "elastic_ip": "repoint:elastic_ip",
    "network_interface": "repoint:network_interface",
    "data_volume": "repoint:data_volume",
}


def _is_aws(provider: str) -> bool:
    return provider.startswith("aws.")


def _watches_native_points(component: Component) -> bool:
    """The agent's ``rpo_at_risk`` watch reads the service's own recovery points (agent._rpo_watch)."""
    if component.backup is not None or component.rpo.total_seconds() <= 0:
        return False
    info = PROVIDERS.get(component.provider)
    if info is None or info.implementation is None:
        return False
    module_name, _, class_name = info.implementation.partition(":")
    implementation = getattr(importlib.import_module(module_name), class_name)
    return hasattr(implementation, "native_window")  # NativeRecoveryPoints, as the agent asks


def _component_features(component: Component, known: dict[str, tuple[str, ...]]) -> list[str]:
    provider = component.provider
    found: list[str] = []
    if _is_aws(provider):
        if f"start:{provider}" in known:
            found.append(f"start:{provider}")
        if _watches_native_points(component):
            found.append(f"rpo_watch:{provider}")
    for step in component.recovery:
        if isinstance(step, Run):
            if step.function is not None:
                found.append("run:lambda")
        elif _is_aws(provider):
            found.append(f"{provider}:{step.strategy}")
    if component.health.check.startswith("aws."):
        found.append(f"check:{component.health.check}")
    if component.drills.allowed and _is_aws(provider):
        info = PROVIDERS.get(provider)
        offered = info.faults if info is not None else ()
        found.extend(f"fault:{provider}:{f}" for f in (component.drills.faults or offered))
    if component.backup is not None and component.backup.engine == BackupEngine.aws_backup:
        found.append("backup:aws_backup")
    spec = component.spec
    if provider == "aws.ec2":
        if spec.get("on_replace") == "terminate" and any(
            step.strategy == "replace_instance" for step in component.recovery
        ):
            found.append("terminate:aws.ec2")
        found.extend(key for spec_key, key in _EC2_REPOINTS.items() if spec.get(spec_key))
    elif provider in ("aws.rds", "aws.elasticache") and spec.get("route53"):
        found.append("repoint:route53")
    return found


def features_for(catalog: Catalog) -> list[str]:
    """The feature keys ``catalog`` uses, sorted and unique (what its IAM policy must allow)."""
    found: set[str] = set()
    known = known_actions()
    for component in catalog.components.values():
        found.update(_component_features(component, known))
    if any(route.url.startswith("sns://") for route in catalog.notify):
        found.add("notify:sns")
    agent = catalog.agent
    for key, value in (
        ("agent:events_queue", agent.events_queue),
        ("agent:metrics_namespace", agent.metrics_namespace),
        ("agent:claims", agent.claims),
    ):
        if value:
            found.add(key)
    return sorted(found)


def feature_modules() -> dict[str, Any]:
    """The modules of ``FEATURE_MODULES`` that exist in this version, by name."""
    found: dict[str, Any] = {}
    for name in FEATURE_MODULES:
        try:
            found[name] = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module is there but something it imports is not
                raise
    return found


def known_actions() -> dict[str, tuple[str, ...]]:
    """Every feature key the AWS modules list, with its IAM actions (merged, sorted, unique)."""
    merged: dict[str, set[str]] = {}
    for module in feature_modules().values():
        listed: dict[str, tuple[str, ...]] = getattr(module, "IAM_ACTIONS", {})
        for feature, actions in listed.items():
            merged.setdefault(feature, set()).update(actions)
    return {feature: tuple(sorted(actions)) for feature, actions in sorted(merged.items())}


def actions_by_feature(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """Each feature of ``catalog`` with its actions; ``NotBuiltYet`` names features no module lists."""
    known = known_actions()
    features = features_for(catalog)
    missing = [f for f in features if not known.get(f)]
    if missing:
        raise NotBuiltYet(
            f"no IAM actions are known for {', '.join(missing)} (used by {catalog.source}); "
            "the module implementing it must list them in IAM_ACTIONS"
        )
    return {f: known[f] for f in features}


def actions_for(catalog: Catalog) -> list[str]:
    """The IAM actions ``catalog`` needs, sorted and unique: exactly its agent's policy."""
    return sorted({a for actions in actions_by_feature(catalog).values() for a in actions})


def markdown_table() -> str:
    """Every feature with its IAM actions as the Markdown table the README shows."""
    lines = ["| feature | IAM actions |", "|---|---|"]
    lines += [f"| `{f}` | {', '.join(a)} |" for f, a in known_actions().items()]
    return "\n".join(lines)
