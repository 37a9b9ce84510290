"""The ``run`` strategy with a Lambda function, and paramedic's own Lambda entry point.

moto's server runs Lambda code in Docker, which is not here; ``POST /moto-api/config
{"lambda": {"use_docker": false}}`` makes it answer an invocation without running code:
with the answer queued through ``/moto-api/static/lambda-simple/response``, or else by
echoing the event. An unhandled error (``FunctionError``) is not something moto can
answer: that case uses botocore's Stubber with the documented response.
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from paramedic.catalog.loader import load_catalog
from paramedic.errors import ProviderError
from paramedic.providers.aws.lambda_entry import handler
from paramedic.providers.aws.lambda_run import incident_payload, invoke_recovery, lambda_client
from paramedic.providers.aws.session import AwsError
from paramedic.providers.base import ActionContext
from tests.aws_server import MotoAccount
from tests.servers import free_port, wait_port

pytestmark = pytest.mark.integration

WITHIN = timedelta(seconds=20)


def without_docker(moto: MotoAccount, *answers: dict[str, Any]) -> None:
    """moto answers Lambda invocations itself; ``answers`` are its next answers, in order."""
    httpx.post(
        f"{moto.endpoint_url}/moto-api/config", json={"lambda": {"use_docker": False}}
    ).raise_for_status()
    if answers:
        httpx.post(
            f"{moto.endpoint_url}/moto-api/static/lambda-simple/response",
            json={"results": [json.dumps(a) for a in answers], "region": moto.region},
        ).raise_for_status()


def create_function(moto: MotoAccount, name: str = "fix-orders") -> str:
    """A Python function on the emulated account; returns its ARN."""
    role = moto.client("iam").create_role(
        RoleName=f"{name}-role", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
    )["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("fix.py", "def handler(event, context):\n    return {'ok': True}\n")
    created = moto.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="fix.handler",
        Code={"ZipFile": archive.getvalue()},
    )
    return str(created["FunctionArn"])


async def test_invoke_recovery_uses_the_functions_answer(moto: MotoAccount) -> None:
    arn = create_function(moto)
    without_docker(
        moto,
        {"ok": True, "output": "orders restarted", "recovery_point_at": "2026-11-25T14:30:00Z"},
    )
    result = await invoke_recovery(moto.settings, arn, {"incident_id": "inc-1"}, WITHIN)
    assert result.output == "orders restarted"
    assert result.recovery_point_at == datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
    assert result.detail["function"] == arn


async def test_ok_false_fails_the_step_naming_the_function(moto: MotoAccount) -> None:
    create_function(moto)
    without_docker(moto, {"ok": False, "error": "disk full on /data"})
    with pytest.raises(ProviderError) as caught:
        await invoke_recovery(moto.settings, "fix-orders", {"incident_id": "inc-2"}, WITHIN)
    assert str(caught.value) == "Lambda function 'fix-orders' reported failure: disk full on /data"


async def test_the_function_receives_the_incident_and_must_answer_ok(
    moto: MotoAccount, tmp_path: Path
) -> None:
    # With nothing queued, moto echoes the event back: it arrives whole, and is no answer.
    create_function(moto)
    without_docker(moto)
    catalog = load_catalog(write_catalog(tmp_path, port=free_port()))
    ctx = ActionContext(
        incident_id="inc-3",
        step_index=1,
        component_name="web",
        component=catalog.components["web"],
        catalog=catalog,
        failed_at=datetime(2026, 11, 25, 14, 0, tzinfo=UTC),
    )
    payload = incident_payload(ctx)
    assert payload["catalog"] == catalog.source
    with pytest.raises(ProviderError) as caught:
        await invoke_recovery(moto.settings, "fix-orders", payload, WITHIN)
    message = str(caught.value)
    assert message.startswith("Lambda function 'fix-orders' answered '{")
    assert '"incident_id": "inc-3"' in message
    assert '"failed_at": "2026-11-25T14:00:00+00:00"' in message
    assert message.endswith('a recovery function must return {"ok": true|false, "output": "..."}')


async def test_a_missing_function_is_an_aws_error_naming_it(moto: MotoAccount) -> None:
    # Stubber: moto without Docker answers for any function name, existing or not.
    within = timedelta(seconds=8)
    with Stubber(lambda_client(moto.settings, within)) as stub:
        stub.add_client_error(
            "invoke",
            service_error_code="ResourceNotFoundException",
            service_message="Function not found: arn:aws:lambda:us-east-1:123456789012:function:gone",
            http_status_code=404,
        )
        with pytest.raises(AwsError) as caught:
            await invoke_recovery(moto.settings, "gone", {}, within)
    assert str(caught.value) == (
        "lambda Invoke gone: ResourceNotFoundException: "
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:gone"
    )
    assert caught.value.code == "ResourceNotFoundException"


async def test_an_unhandled_error_in_the_function_names_it(moto: MotoAccount) -> None:
    # Stubber: moto cannot make a function fail; this is the documented FunctionError answer.
    within = timedelta(seconds=7)  # a client of its own, not shared with other tests
    raw = json.dumps(
        {"errorMessage": "name 'db' is not defined", "errorType": "NameError", "stackTrace": []}
    ).encode()
    with Stubber(lambda_client(moto.settings, within)) as stub:
        stub.add_response(
            "invoke",
            {
                "StatusCode": 200,
                "FunctionError": "Unhandled",
                "Payload": StreamingBody(io.BytesIO(raw), len(raw)),
            },
            {
                "FunctionName": "fix-orders",
                "InvocationType": "RequestResponse",
                "Payload": b'{"incident_id": "inc-4"}',
            },
        )
        with pytest.raises(ProviderError) as caught:
            await invoke_recovery(moto.settings, "fix-orders", {"incident_id": "inc-4"}, within)
        stub.assert_no_pending_responses()
    assert str(caught.value) == (
        "Lambda function 'fix-orders' failed: NameError: name 'db' is not defined"
    )


# ---------------------------------------------------------------- the entry point


def write_catalog(base: Path, port: int) -> Path:
    """A catalog with one owned ``process`` component serving HTTP on ``port``."""
    data = {
        "version": 1,
        "components": {
            "web": {
                "type": "application_server",
                "rto": "30s",
                "rpo": "0s",
                "provider": "process",
                "spec": {"command": [sys.executable, "-m", "http.server", str(port)], "cwd": "."},
                "health": {"check": "http", "url": f"http://127.0.0.1:{port}/"},
                "recovery": [
                    {"strategy": "restart_service"},
                    {"strategy": "run", "command": ["sh", "-c", "echo fixed $PARAMEDIC_INCIDENT"]},
                    {"strategy": "run", "command": ["false"]},
                ],
            }
        },
    }
    path = base / "paramedic.yaml"
    path.write_text(json.dumps(data, indent=2))  # JSON is YAML
    return path


def owned_pid(base: Path) -> int:
    record = json.loads((base / "var" / "run" / "web" / "primary.pid").read_text())
    return int(record["pid"])


def test_entry_point_restarts_a_process_component(tmp_path: Path) -> None:
    port = free_port()
    path = write_catalog(tmp_path, port)
    event = {"catalog": str(path), "component": "web", "strategy_index": 0, "incident_id": "i-9"}
    try:
        answer = handler(event, None)
        assert answer["ok"] is True, answer
        assert answer["output"].startswith("restart_service of web:")
        assert answer["recovery_point_at"] is None
        wait_port(port)  # left running for the agent to find
        first = owned_pid(tmp_path)
        again = handler(event, None)  # the same incident and step: not a second restart
        assert again["ok"] is True
        assert "already done for incident i-9 step 0" in again["output"]
        assert owned_pid(tmp_path) == first
    finally:
        pid_file = tmp_path / "var" / "run" / "web" / "primary.pid"
        if pid_file.exists():
            os.kill(owned_pid(tmp_path), signal.SIGTERM)


def test_entry_point_runs_a_command_step(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, free_port())
    event = {"catalog": str(path), "component": "web", "strategy_index": 1, "incident_id": "i-7"}
    try:
        answer = handler(event, None)
    finally:
        pid_file = tmp_path / "var" / "run" / "web" / "primary.pid"
        if pid_file.exists():
            os.kill(owned_pid(tmp_path), signal.SIGTERM)
    assert answer["ok"] is True, answer
    assert "fixed i-7" in answer["output"]


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"strategy_index": 2}, "exit"),
        ({"strategy_index": 5}, "component 'web' has 3 recovery step(s); strategy_index 5"),
        ({"component": "nope"}, "no component 'nope'"),
        ({"catalog": "s3://bucket/paramedic.yaml"}, "s3:// catalogs are not read"),
        ({"incident_id": None}, "Lambda event: incident_id must be a str"),
    ],
)
def test_entry_point_answers_errors_in_one_line(
    tmp_path: Path, change: dict[str, Any], error: str
) -> None:
    path = write_catalog(tmp_path, free_port())
    event = {"catalog": str(path), "component": "web", "strategy_index": 0, "incident_id": "i-1"}
    try:
        answer = handler({**event, **change}, None)
    finally:
        pid_file = tmp_path / "var" / "run" / "web" / "primary.pid"
        if pid_file.exists():
            os.kill(owned_pid(tmp_path), signal.SIGTERM)
    assert answer["ok"] is False
    assert error in answer["error"]
    assert "\n" not in answer["error"]
