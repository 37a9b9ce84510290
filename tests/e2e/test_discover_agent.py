"""The agent's ``agent.drift_check``: the real ``paramedic run`` discovers the account on a schedule
and sends ``drift_found`` through the catalog's notification route."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.aws_server import MotoAccount
from tests.e2e.harness import start_agent, start_webhook, wait_for

pytestmark = pytest.mark.e2e


def _instance(moto: MotoAccount, name: str) -> str:
    ec2 = moto.client("ec2")
    ami = ec2.describe_images()["Images"][0]["ImageId"]
    made = ec2.run_instances(
        ImageId=ami,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.small",
        Placement={"AvailabilityZone": "us-east-1a"},
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )
    return str(made["Instances"][0]["InstanceId"])


def test_agent_notifies_drift_found_for_an_instance_the_catalog_lacks(
    tmp_path: Path, moto: MotoAccount
) -> None:
    known = _instance(moto, "web")
    stray = _instance(moto, "stray")
    hook = start_webhook()
    catalog = {
        "version": 1,
        "state": "sqlite:///state.db",
        "aws": moto.catalog_block,
        "agent": {"drift_check": "1s"},
        "notify": [{"name": "ops", "url": hook.url, "events": ["drift_found"]}],
        "components": {
            "web": {
                "type": "application_server",
                "rto": "20m",
                "rpo": "0s",
                "provider": "aws.ec2",
                "spec": {"instance_id": known},
                "health": {"check": "aws.ec2_status", "interval": "1s", "timeout": "5s"},
                "recovery": [{"strategy": "restart_service", "timeout": "5m"}],
            }
        },
    }
    (tmp_path / "paramedic.yaml").write_text(json.dumps(catalog))
    agent = start_agent(tmp_path)
    try:
        wait_for("a drift_found notice", lambda: "drift_found" in hook.events(), timeout=60)
    finally:
        code = agent.stop()
        hook.server.shutdown()
        hook.server.server_close()
    assert code == 0, agent.log()
    notice = json.loads(next(b["message"] for b in hook.bodies if "drift_found" in b["message"]))
    assert notice["payload"]["drift"] == [
        {
            "kind": "new",
            "component": None,
            "resource": stray,
            "reason": notice["payload"]["drift"][0]["reason"],
        }
    ]
    assert notice["payload"]["counts"] == {"new": 1}
    lines = [json.loads(x) for x in agent.log().splitlines() if x.startswith("{")]
    found = [x for x in lines if x.get("decision") == "drift_found"]
    assert found and found[0]["reason"] == f"1 drift: new {stray}"
