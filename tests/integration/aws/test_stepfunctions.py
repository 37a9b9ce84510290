"""The recovery ladder as a state machine, created (then updated) on moto's Step Functions."""

from __future__ import annotations

import json

import pytest

from paramedic.catalog.model import Catalog
from paramedic.providers.aws.stepfunctions import create_state_machine, ladder_definition
from tests.aws_server import MotoAccount

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/paramedic-stepfunctions"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:paramedic"


def catalog(moto: MotoAccount, steps: int) -> Catalog:
    ladder = [
        {"strategy": "restart_service"},
        {"strategy": "run", "function": "fix-web"},
        {"strategy": "replace_instance"},
    ][:steps]
    return Catalog.model_validate(
        {
            "version": 1,
            "aws": moto.catalog_block,
            "components": {
                "web": {
                    "type": "application_server",
                    "rto": "5m",
                    "rpo": "0s",
                    "provider": "aws.ec2",
                    "spec": {"instance_id": "i-0123456789abcdef0"},
                    "health": {"check": "aws.ec2_status"},
                    "recovery": ladder,
                }
            },
        }
    )


async def test_the_ladder_is_created_then_updated_in_place(moto: MotoAccount) -> None:
    first = ladder_definition(catalog(moto, 3), "web", FUNCTION)
    arn = await create_state_machine(moto.settings, "paramedic-web", first, ROLE)
    states = moto.client("stepfunctions")
    described = states.describe_state_machine(stateMachineArn=arn)
    assert described["name"] == "paramedic-web"
    assert described["roleArn"] == ROLE
    assert json.loads(described["definition"]) == first

    shorter = ladder_definition(catalog(moto, 2), "web", FUNCTION)
    again = await create_state_machine(moto.settings, "paramedic-web", shorter, ROLE)
    assert again == arn
    assert [m["name"] for m in states.list_state_machines()["stateMachines"]] == ["paramedic-web"]
    updated = json.loads(states.describe_state_machine(stateMachineArn=arn)["definition"])
    assert "3-replace_instance" not in updated["States"]
    assert updated["States"]["2-run"]["Catch"][0]["Next"] == "Escalated"
