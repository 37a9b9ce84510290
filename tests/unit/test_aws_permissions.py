"""Least-privilege IAM: which features a catalog uses and which actions they need."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from paramedic.catalog.model import Catalog
from paramedic.errors import NotBuiltYet
from paramedic.providers.aws import permissions
from paramedic.providers.aws.permissions import (
    FEATURE_MODULES,
    IAM_ACTION,
    actions_for,
    feature_modules,
    features_for,
    known_actions,
)
from paramedic.providers.registry import PROVIDERS

# every feature key the AWS modules must list between them (issue 5)
EXPECTED_FEATURES = (
    "aws.ec2:restart_service",
    "aws.ec2:replace_instance",
    "aws.asg:replace_instance",
    "aws.asg:scale_out",
    "aws.rds:restart_service",
    "aws.rds:restore_from_backup",
    "aws.elasticache:restart_service",
    "aws.elasticache:restore_from_backup",
    "check:aws.ec2_status",
    "check:aws.target_health",
    "check:aws.route53_health",
    "check:aws.rds_status",
    "check:aws.elasticache_status",
    "check:aws.cloudwatch_alarm",
    "repoint:target_group",
    "repoint:route53",
    "repoint:elastic_ip",
    "repoint:network_interface",
    "repoint:data_volume",
    "start:aws.ec2",
    "start:aws.rds",
    "rpo_watch:aws.rds",
    "terminate:aws.ec2",
    "backup:aws_backup",
    "run:lambda",
    "notify:sns",
    "agent:metrics_namespace",
    "agent:events_queue",
    "agent:claims",
    "cli:wire-events",
    "cli:export-stepfunctions",
)


def _component(provider: str, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "application_server",
        "rto": "5m",
        "rpo": "1h",
        "provider": provider,
        "spec": {},
        "health": {"check": "tcp", "host": "127.0.0.1", "port": 80},
        "recovery": [],
    }
    base.update(over)
    return base


def _catalog(components: dict[str, Any], **top: Any) -> Catalog:
    return Catalog.model_validate({"version": 1, "components": components, **top})


def test_features_of_a_mixed_catalog() -> None:
    catalog = _catalog(
        {
            "web": _component(
                "aws.ec2",
                spec={
                    "instance_id": "i-0123456789abcdef0",
                    "target_group_arns": ["arn:tg"],
                    "network_interface": "eni-0abc",
                    "elastic_ip": None,
                },
                health={"check": "aws.ec2_status"},
                recovery=[
                    {"strategy": "restart_service"},
                    {"strategy": "replace_instance"},
                    {"strategy": "run", "function": "fix-web"},
                ],
                drills={"allowed": True, "faults": ["stop-instance"]},
            ),
            "db": _component(
                "aws.rds",
                type="database",
                spec={
                    "db_instance_identifier": "orders",
                    "route53": {"zone_id": "Z1", "name": "db"},
                },
                health={"check": "aws.rds_status"},
                backup={"engine": "aws_backup", "schedule": "0 * * * *"},
                recovery=[{"strategy": "restore_from_backup"}],
                drills={"allowed": True},
            ),
            "group": _component(
                "aws.asg",
                spec={"group": "workers"},
                recovery=[{"strategy": "scale_out"}],
                drills={"allowed": False, "faults": ["x"]},
            ),
            "local": _component(
                "process",
                spec={"command": ["true"]},
                recovery=[
                    {"strategy": "restart_service"},
                    {"strategy": "run", "command": ["true"]},
                ],
            ),
        },
        notify=[{"name": "ops", "url": "sns://arn:aws:sns:us-east-1:1:t"}],
        agent={"claims": "dynamodb://pm", "metrics_namespace": "Paramedic"},
    )
    rds_faults = [f"fault:aws.rds:{f}" for f in PROVIDERS["aws.rds"].faults]
    assert features_for(catalog) == sorted(
        {
            "agent:claims",
            "agent:metrics_namespace",
            "aws.asg:scale_out",
            "aws.ec2:replace_instance",
            "aws.ec2:restart_service",
            "aws.rds:restore_from_backup",
            "backup:aws_backup",
            "check:aws.ec2_status",
            "check:aws.rds_status",
            "fault:aws.ec2:stop-instance",
            *rds_faults,
            "notify:sns",
            "repoint:network_interface",
            "repoint:route53",
            "repoint:target_group",
            "run:lambda",
            "start:aws.ec2",
            "start:aws.rds",
        }
    )


def test_a_local_only_catalog_needs_no_aws_feature() -> None:
    catalog = _catalog({"web": _component("process", spec={"command": ["true"]})})
    assert features_for(catalog) == []
    assert actions_for(catalog) == []


def test_every_listed_action_is_an_iam_action_name() -> None:
    known = known_actions()
    assert "agent:claims" in known
    for feature, actions in known.items():
        assert actions, feature
        assert list(actions) == sorted(set(actions)), feature
        for action in actions:
            assert IAM_ACTION.match(action), (feature, action)


def test_each_present_module_exports_iam_actions() -> None:
    for name, module in feature_modules().items():
        listed = getattr(module, "IAM_ACTIONS", None)
        assert isinstance(listed, dict), f"{name} does not export IAM_ACTIONS"
        for feature, actions in listed.items():
            assert isinstance(feature, str) and isinstance(actions, tuple), (name, feature)


def test_every_aws_feature_has_actions_once_all_modules_exist() -> None:
    missing_modules = sorted(set(FEATURE_MODULES) - set(feature_modules()))
    if missing_modules:
        pytest.skip(f"AWS modules not built yet: {', '.join(missing_modules)}")
    known = known_actions()
    missing = [f for f in EXPECTED_FEATURES if f not in known]
    assert not missing, f"no module lists IAM_ACTIONS for: {', '.join(missing)}"
    for provider, info in PROVIDERS.items():
        if provider.startswith("aws."):
            for strategy in info.strategies:
                assert f"{provider}:{strategy}" in known, (provider, strategy)
            for fault in info.faults:
                assert f"fault:{provider}:{fault}" in known, (provider, fault)


def test_actions_are_sorted_unique_and_cover_each_feature() -> None:
    catalog = _catalog(
        {"web": _component("process", spec={"command": ["true"]})},
        agent={"claims": "dynamodb://pm"},
    )
    actions = actions_for(catalog)
    assert actions == sorted(set(actions))
    assert set(known_actions()["agent:claims"]) == set(actions)


def test_a_feature_without_actions_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        permissions, "known_actions", lambda: {"agent:claims": ("dynamodb:GetItem",)}
    )
    catalog = _catalog(
        {"web": _component("process", spec={"command": ["true"]})},
        agent={"claims": "dynamodb://pm", "metrics_namespace": "Paramedic"},
    )
    with pytest.raises(NotBuiltYet) as caught:
        actions_for(catalog)
    assert str(caught.value) == (
        "no IAM actions are known for agent:metrics_namespace (used by <catalog>); "
        "the module implementing it must list them in IAM_ACTIONS"
    )


def test_a_module_not_built_yet_is_skipped_but_a_broken_one_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        permissions,
        "FEATURE_MODULES",
        ("paramedic.providers.aws.claims", "paramedic.providers.aws.not_yet_written"),
    )
    assert list(feature_modules()) == ["paramedic.providers.aws.claims"]

    real_import = importlib.import_module

    def broken(name: str, package: str | None = None) -> Any:
        if name == "paramedic.providers.aws.claims":
            raise ModuleNotFoundError("No module named 'somelib'", name="somelib")
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(ModuleNotFoundError, match="somelib"):
        feature_modules()


def test_terminate_is_granted_only_when_the_spec_asks_for_it() -> None:
    def ec2(**spec: Any) -> Catalog:
        return _catalog(
            {
                "web": _component(
                    "aws.ec2",
                    spec={"instance_id": "i-0123456789abcdef0", **spec},
                    health={"check": "aws.ec2_status"},
                    recovery=[{"strategy": "replace_instance"}],
                )
            }
        )

    assert "ec2:TerminateInstances" not in actions_for(ec2())
    assert "terminate:aws.ec2" in features_for(ec2(on_replace="terminate"))
    assert "ec2:TerminateInstances" in actions_for(ec2(on_replace="terminate"))


def test_the_readme_lists_every_feature_with_its_actions() -> None:
    from pathlib import Path

    from paramedic.providers.aws.permissions import markdown_table

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("<!-- iam:start -->\n", 1)[1].split("\n<!-- iam:end -->", 1)[0]
    assert block == markdown_table(), (
        "regenerate: python -c 'from paramedic.providers.aws.permissions import markdown_table; print(markdown_table())'"
    )


def _rds(**over: Any) -> Catalog:
    return _catalog(
        {
            "db": _component(
                "aws.rds",
                type="database",
                spec={"db_instance_identifier": "orders"},
                recovery=[{"strategy": "restart_service"}],
                **over,
            )
        }
    )


def test_the_rpo_watch_of_an_rds_instance_without_backup_is_granted_its_calls() -> None:
    # issue 13.10: the agent reads the automated backups of every aws.rds without backup:
    catalog = _rds()
    assert {"start:aws.rds", "rpo_watch:aws.rds"} <= set(features_for(catalog))
    assert "rds:DescribeDBInstanceAutomatedBackups" in actions_for(catalog)


def test_no_rpo_watch_with_an_rpo_of_zero_or_a_backup_engine() -> None:
    assert "rpo_watch:aws.rds" not in features_for(_rds(rpo="0s"))
    with_backup = _rds(backup={"engine": "aws_backup", "schedule": "0 * * * *"})
    assert "rpo_watch:aws.rds" not in features_for(with_backup)
    assert "start:aws.rds" in features_for(with_backup)


def test_a_declaration_sums_the_calls_of_what_it_uses() -> None:
    from paramedic.providers.aws.iam import actions_of, calls, declares

    @calls("rds:DescribeDBInstances")
    def describe() -> None:
        """A helper that calls AWS."""

    @calls("route53:GetChange")
    def wait() -> None:
        """Another."""

    @calls("rds:RebootDBInstance", uses=(describe, wait))
    def reboot() -> None:
        """A feature using both."""

    def undeclared() -> None:
        """Calls AWS without saying so."""

    assert actions_of(reboot) == (
        "rds:DescribeDBInstances",
        "rds:RebootDBInstance",
        "route53:GetChange",
    )
    assert actions_of(describe, "iam:PassRole") == ("iam:PassRole", "rds:DescribeDBInstances")
    assert declares(reboot) and not declares(undeclared)
    with pytest.raises(TypeError, match="undeclared declares no IAM actions"):
        actions_of(undeclared)
