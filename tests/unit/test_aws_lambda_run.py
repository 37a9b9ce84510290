"""invoke_recovery reads the function's answer off the event loop, and a broken read is one line."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from paramedic.catalog.aws import AwsSettings
from paramedic.providers.aws import lambda_run
from paramedic.providers.aws.session import AwsError


class Stream:
    """A Payload stream that records whether it was read on the event loop's thread."""

    def __init__(self, body: bytes | Exception) -> None:
        self.body = body
        self.on_loop: bool | None = None

    def read(self) -> bytes:
        try:
            asyncio.get_running_loop()
            self.on_loop = True
        except RuntimeError:
            self.on_loop = False
        if isinstance(self.body, Exception):
            raise self.body
        return self.body


class FakeLambda:
    """Just enough of a boto3 Lambda client for ``session.call_sync``."""

    meta = SimpleNamespace(service_model=SimpleNamespace(service_name="lambda"))

    def __init__(self, stream: Stream) -> None:
        self.stream = stream

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        return {"StatusCode": 200, "Payload": self.stream}


async def test_the_answer_is_read_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = Stream(json.dumps({"ok": True, "output": "done"}).encode())
    monkeypatch.setattr(lambda_run, "lambda_client", lambda *a: FakeLambda(stream))
    result = await lambda_run.invoke_recovery(AwsSettings(), "fix", {}, timedelta(seconds=5))
    assert result.output == "done"
    assert stream.on_loop is False  # a blocking read on the loop would stall every check


async def test_a_broken_answer_stream_is_one_aws_error_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = Stream(ConnectionResetError("connection reset\nby peer"))
    monkeypatch.setattr(lambda_run, "lambda_client", lambda *a: FakeLambda(stream))
    with pytest.raises(AwsError) as caught:
        await lambda_run.invoke_recovery(AwsSettings(), "fix", {}, timedelta(seconds=5))
    assert str(caught.value) == (
        "lambda Invoke fix: reading the answer failed: ConnectionResetError: connection reset by peer"
    )
