"""moto's server on loopback: the AWS account every AWS test talks to through boto3.

The same code reaches AWS, LocalStack or this server; only ``endpoint_url``
differs. One server serves the whole test session; each test starts from an
empty account (``/moto-api/reset``). Credentials are moto's dummy ones, set
in the environment so that the agent started as a subprocess inherits them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from paramedic.catalog.aws import AwsSettings
from paramedic.providers.aws import session
from tests.servers import free_port, wait_port

REGION = "us-east-1"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@dataclass(frozen=True)
class MotoAccount:
    """An empty emulated AWS account behind ``endpoint_url``."""

    endpoint_url: str
    region: str = REGION

    @property
    def settings(self) -> AwsSettings:
        """Catalog settings reaching this account, polling fast for tests."""
        return AwsSettings(
            region=self.region,
            endpoint_url=self.endpoint_url,
            poll_interval=timedelta(milliseconds=200),
        )

    @property
    def catalog_block(self) -> dict[str, Any]:
        """The ``aws:`` block of a catalog reaching this account."""
        return {"region": self.region, "endpoint_url": self.endpoint_url, "poll_interval": "200ms"}

    def client(self, service: str) -> Any:
        """A plain boto3 client on this account, for a test's set-up and assertions."""
        import boto3

        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url)

    def reset(self) -> None:
        """Empty the account (every service)."""
        httpx.post(f"{self.endpoint_url}/moto-api/reset", timeout=30).raise_for_status()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's ThreadedMotoServer on a free loopback port for the test session."""
    from moto.server import ThreadedMotoServer

    for key, value in CREDENTIALS.items():
        os.environ[key] = value
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    wait_port(port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto(moto_endpoint: str) -> Iterator[MotoAccount]:
    """An empty emulated AWS account for one test."""
    account = MotoAccount(moto_endpoint)
    account.reset()
    session.forget_clients()
    yield account
    session.forget_clients()
