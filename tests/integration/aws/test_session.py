"""The AWS session layer against moto's server: clients, error translation, waiting."""

from __future__ import annotations

import pytest

from paramedic.catalog.aws import AwsSettings
from paramedic.providers.aws.session import AwsError, call, client, error_code, wait_for
from tests.aws_server import MotoAccount

pytestmark = pytest.mark.integration


async def test_call_returns_the_api_answer(moto: MotoAccount) -> None:
    ec2 = client(moto.settings, "ec2")
    answer = await call(ec2, "DescribeRegions")
    assert any(r["RegionName"] == moto.region for r in answer["Regions"])


async def test_client_error_names_service_api_resource_and_code(moto: MotoAccount) -> None:
    rds = client(moto.settings, "rds")
    with pytest.raises(AwsError) as caught:
        await call(rds, "DescribeDBInstances", "orders", DBInstanceIdentifier="orders")
    message = str(caught.value)
    assert message.startswith("rds DescribeDBInstances orders: DBInstanceNotFound")
    assert "\n" not in message
    assert error_code(caught.value) == "DBInstanceNotFound"


async def test_unreachable_endpoint_is_one_line_naming_the_setting() -> None:
    from tests.servers import free_port

    settings = AwsSettings(region="us-east-1", endpoint_url=f"http://127.0.0.1:{free_port()}")
    ec2 = client(settings, "ec2")
    ec2.meta.config.retries = {"mode": "standard", "max_attempts": 1}
    with pytest.raises(AwsError, match=r"cannot reach the AWS endpoint .*aws.endpoint_url"):
        await call(ec2, "DescribeInstances")


async def test_wait_for_gives_up_with_what_it_waited_for() -> None:
    async def never() -> None:
        return None

    with pytest.raises(AwsError, match=r"timed out after 0\.3s waiting for the moon"):
        await wait_for(never, within=0.3, interval=0.1, what="the moon")


def test_settings_merge_component_over_catalog() -> None:
    top = AwsSettings(region="eu-west-1", endpoint_url="http://127.0.0.1:1")
    merged = top.merged(AwsSettings(region="us-east-1"))
    assert (merged.region, merged.endpoint_url) == ("us-east-1", "http://127.0.0.1:1")


async def test_collect_reads_every_page(moto: MotoAccount) -> None:
    from paramedic.providers.aws.session import collect

    sqs = moto.client("sqs")
    for n in range(3):
        sqs.create_queue(QueueName=f"q{n}")
    client_ = client(moto.settings, "sqs")
    urls = await collect(client_, "ListQueues", "QueueUrls", MaxResults=1)
    assert sorted(u.rsplit("/", 1)[1] for u in urls) == ["q0", "q1", "q2"]


async def test_collect_errors_are_one_line(moto: MotoAccount) -> None:
    from paramedic.providers.aws.session import collect

    rds = client(moto.settings, "rds")
    with pytest.raises(AwsError, match=r"^rds DescribeDBSnapshots orders: invalid request: "):
        await collect(rds, "DescribeDBSnapshots", "DBSnapshots", "orders", MaxRecords="many")
