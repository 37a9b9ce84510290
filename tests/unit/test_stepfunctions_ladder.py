"""The recovery ladder as Amazon States Language: the shape of a three-step ladder."""

from __future__ import annotations

import json
from typing import Any

import pytest

from paramedic.catalog.model import Catalog
from paramedic.errors import NotFound
from paramedic.providers.aws.stepfunctions import TRANSIENT_LAMBDA_ERRORS, ladder_definition

ARN = "arn:aws:lambda:us-east-1:123456789012:function:paramedic"


def catalog(recovery: list[dict[str, Any]]) -> Catalog:
    return Catalog.model_validate(
        {
            "version": 1,
            "components": {
                "orders-db": {
                    "type": "database",
                    "rto": "10m",
                    "rpo": "1m",
                    "provider": "aws.rds",
                    "spec": {"db_instance_identifier": "orders"},
                    "health": {"check": "aws.rds_status"},
                    "recovery": recovery,
                    "budget": {"recoveries": 4, "backoff": "2s", "backoff_max": "1m"},
                }
            },
        }
    )


LADDER = [
    {"strategy": "restart_service", "timeout": "90s"},
    {"strategy": "run", "function": "fix-orders", "timeout": "2m"},
    {"strategy": "restore_from_backup", "approval": "required", "timeout": "20m"},
]


def test_one_task_per_strategy_in_ladder_order() -> None:
    definition = ladder_definition(
        catalog(LADDER), "orders-db", ARN, catalog_path="/var/task/p.yaml"
    )
    states = definition["States"]
    assert definition["StartAt"] == "1-restart_service"
    tasks = [name for name, state in states.items() if state["Type"] == "Task"]
    assert tasks == ["1-restart_service", "2-run", "3-restore_from_backup"]
    assert [states[t]["TimeoutSeconds"] for t in tasks] == [90, 120, 1200]
    for index, name in enumerate(tasks):
        task = states[name]
        assert task["Resource"] == "arn:aws:states:::lambda:invoke"
        assert task["Parameters"] == {
            "FunctionName": ARN,
            "Payload": {
                "catalog": "/var/task/p.yaml",
                "component": "orders-db",
                "strategy_index": index,
                "incident_id.$": "$.incident_id",
            },
        }
        assert task["Next"] == f"{name}-ok?"
    assert "approval required" in states["3-restore_from_backup"]["Comment"]


def test_retry_comes_from_the_budget_and_catch_falls_to_the_next_strategy() -> None:
    states = ladder_definition(catalog(LADDER), "orders-db", ARN)["States"]
    assert states["1-restart_service"]["Retry"] == [
        {
            "ErrorEquals": list(TRANSIENT_LAMBDA_ERRORS),
            "IntervalSeconds": 2,
            "MaxDelaySeconds": 60,
            "BackoffRate": 2.0,
            "MaxAttempts": 3,
        }
    ]
    catches = {name: s["Catch"][0]["Next"] for name, s in states.items() if s["Type"] == "Task"}
    assert catches == {
        "1-restart_service": "2-run",
        "2-run": "3-restore_from_backup",
        "3-restore_from_backup": "Escalated",
    }
    assert states["2-run"]["Catch"][0]["ErrorEquals"] == ["States.ALL"]


def test_a_choice_on_ok_ends_the_ladder_or_goes_on() -> None:
    states = ladder_definition(catalog(LADDER), "orders-db", ARN)["States"]
    choice = states["2-run-ok?"]
    assert choice["Type"] == "Choice"
    assert choice["Choices"][0]["Next"] == "Recovered"
    assert {"Variable": "$.result.Payload.ok", "BooleanEquals": True} in choice["Choices"][0]["And"]
    assert choice["Default"] == "3-restore_from_backup"
    assert states["3-restore_from_backup-ok?"]["Default"] == "Escalated"
    assert states["Recovered"] == {"Type": "Succeed"}
    assert states["Escalated"]["Type"] == "Fail"
    assert len(states) == 3 * 2 + 2


def test_an_empty_ladder_escalates_at_once_and_an_unknown_component_is_named() -> None:
    assert ladder_definition(catalog([]), "orders-db", ARN)["StartAt"] == "Escalated"
    with pytest.raises(NotFound, match="no component 'web'"):
        ladder_definition(catalog([]), "web", ARN)


def lint_errors(definition: dict[str, Any]) -> list[str]:
    """cfn-lint's errors about ``definition`` in a one-resource template (E3601: ASL schema)."""
    from cfnlint.api import lint_all

    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Ladder": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {
                    "RoleArn": "arn:aws:iam::123456789012:role/paramedic",
                    "Definition": definition,
                },
            }
        },
    }
    return [str(m.rule.id) for m in lint_all(json.dumps(template)) if m.rule.id.startswith("E")]


def test_cfn_lint_finds_no_error_in_the_definition() -> None:
    definition = ladder_definition(catalog(LADDER), "orders-db", ARN)
    assert lint_errors(definition) == []
    definition["States"]["2-run"]["Type"] = "Taks"
    assert lint_errors(definition) == ["E3601"]
