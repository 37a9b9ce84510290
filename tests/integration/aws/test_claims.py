"""DynamoDB claims on moto's server: exactly-once claims, lease expiry, mirror, audit chain."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any

import pytest

from paramedic.clock import FakeClock
from paramedic.errors import StoreError
from paramedic.providers.aws.claims import Claim, ClaimTable
from paramedic.store.audit import audit_time
from tests.aws_server import MotoAccount

pytestmark = pytest.mark.integration

LEASE = timedelta(minutes=5)


@pytest.fixture(autouse=True)
def atomic_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto's DynamoDB writes atomic, as DynamoDB's are.

    moto's server handles requests in threads with no lock around a conditional write's
    check and write, so two racing PutItems can both pass ``attribute_not_exists``: the
    race tests below then failed now and then for the emulator's fault, not the claim's.
    """
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def atomic(self: object, *args: object, __original: Any = original, **kw: object) -> Any:
            with lock:
                return __original(self, *args, **kw)

        monkeypatch.setattr(DynamoDBBackend, name, atomic)


async def _tables(moto: MotoAccount, clock: FakeClock | None = None) -> ClaimTable:
    table = ClaimTable.from_url("dynamodb://pm-test", moto.settings, clock)
    await table.ensure_tables()
    return table


async def test_ensure_tables_creates_three_on_demand_tables_and_is_idempotent(
    moto: MotoAccount,
) -> None:
    table = await _tables(moto)
    await table.ensure_tables()
    db = moto.client("dynamodb")
    names = sorted(db.list_tables()["TableNames"])
    assert names == ["pm-test-audit", "pm-test-claims", "pm-test-incidents"]
    for name in names:
        described = db.describe_table(TableName=name)["Table"]
        assert described["TableStatus"] == "ACTIVE"
        assert described["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


async def test_two_agents_racing_in_one_loop_win_each_incident_once(moto: MotoAccount) -> None:
    first = await _tables(moto)
    second = ClaimTable.from_url("dynamodb://pm-test", moto.settings)
    for n in range(20):
        incident = f"inc-{n}"
        a, b = await asyncio.gather(
            first.claim(incident, "web", "agent-a", LEASE),
            second.claim(incident, "web", "agent-b", LEASE),
        )
        assert [a.won, b.won].count(True) == 1, (n, a, b)
        winner = "agent-a" if a.won else "agent-b"
        assert a.holder == b.holder == winner
    item = moto.client("dynamodb").get_item(
        TableName="pm-test-claims", Key={"incident_id": {"S": "inc-0"}}
    )["Item"]
    assert item["component"]["S"] == "web"


async def test_two_agents_racing_from_two_threads_win_each_incident_once(
    moto: MotoAccount,
) -> None:
    await _tables(moto)
    rounds = 20
    barrier = threading.Barrier(2)
    results: dict[str, list[Claim]] = {"agent-a": [], "agent-b": []}

    def agent(agent_id: str) -> None:
        table = ClaimTable.from_url("dynamodb://pm-test", moto.settings)

        async def race() -> None:
            for n in range(rounds):
                await asyncio.to_thread(barrier.wait, 10)
                results[agent_id].append(await table.claim(f"t-{n}", "db", agent_id, LEASE))

        asyncio.run(race())

    threads = [threading.Thread(target=agent, args=(a,)) for a in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(len(r) == rounds for r in results.values())
    for a, b in zip(results["agent-a"], results["agent-b"], strict=True):
        assert [a.won, b.won].count(True) == 1
        assert a.holder == b.holder


async def test_a_lease_that_ran_out_lets_another_agent_take_over(moto: MotoAccount) -> None:
    clock = FakeClock()
    first = await _tables(moto, clock)
    second = ClaimTable.from_url("dynamodb://pm-test", moto.settings, clock)
    held = await first.claim("inc-1", "web", "agent-a", timedelta(seconds=30))
    assert held.won and held.expires_at == clock.now() + timedelta(seconds=30)
    lost = await second.claim("inc-1", "web", "agent-b", timedelta(seconds=30))
    assert (lost.won, lost.holder, lost.expires_at) == (False, "agent-a", held.expires_at)
    clock.advance(31)
    taken = await second.claim("inc-1", "web", "agent-b", timedelta(seconds=30))
    assert (taken.won, taken.holder) == (True, "agent-b")
    back = await first.claim("inc-1", "web", "agent-a", timedelta(seconds=30))
    assert (back.won, back.holder) == (False, "agent-b")


async def test_an_agent_resuming_after_a_crash_wins_its_own_claim_again(
    moto: MotoAccount,
) -> None:
    clock = FakeClock()
    table = await _tables(moto, clock)
    await table.claim("inc-1", "web", "agent-a", LEASE)
    clock.advance(60)
    again = await ClaimTable.from_url("dynamodb://pm-test", moto.settings, clock).claim(
        "inc-1", "web", "agent-a", LEASE
    )
    assert again.won and again.expires_at == clock.now() + LEASE


async def test_release_is_conditional_on_the_holder(moto: MotoAccount) -> None:
    table = await _tables(moto)
    await table.claim("inc-1", "web", "agent-a", LEASE)
    assert await table.release("inc-1", "agent-b") is False
    assert not (await table.claim("inc-1", "web", "agent-b", LEASE)).won
    assert await table.release("inc-1", "agent-a") is True
    assert (await table.claim("inc-1", "web", "agent-b", LEASE)).won


async def test_mirror_keeps_components_incidents_and_steps_redacted(moto: MotoAccount) -> None:
    table = await _tables(moto)
    await table.record_component("orders-db", '{"name": "orders-db", "state": "healthy"}')
    await table.record_incident(
        {"id": "inc-1", "component": "orders-db", "state": "recovering", "reason": "down"}
    )
    await table.record_step("inc-1", {"seq": 2, "strategy": "restore_from_backup"})
    await table.record_step(
        "inc-1",
        {"seq": 1, "strategy": "restart_service", "detail": "postgresql://u:hunter2@db/x"},
    )
    mirrored = await table.mirrored("incident#inc-1")
    assert [m.get("seq") for m in mirrored] == [None, 1, 2]
    assert mirrored[0]["state"] == "recovering"
    assert "hunter2" not in str(mirrored)
    assert (await table.mirrored("component#orders-db")) == [
        {"name": "orders-db", "state": "healthy"}
    ]
    item = moto.client("dynamodb").get_item(
        TableName="pm-test-incidents", Key={"pk": {"S": "incident#inc-1"}, "sk": {"S": "incident"}}
    )["Item"]
    assert (item["component"]["S"], item["state"]["S"]) == ("orders-db", "recovering")
    with pytest.raises(StoreError, match="needs a 'seq' integer"):
        await table.record_step("inc-1", {"strategy": "run"})


async def test_audit_chain_from_two_agents_verifies_and_a_tampered_row_is_found(
    moto: MotoAccount,
) -> None:
    first = await _tables(moto)
    second = ClaimTable.from_url("dynamodb://pm-test", moto.settings)
    seqs = await asyncio.gather(
        *(
            (first if n % 2 else second).append_audit(
                f"agent-{n % 2}", "claim", f"inc-{n}", {"n": n, "token": "secret=abc"}
            )
            for n in range(12)
        )
    )
    assert sorted(seqs) == list(range(1, 13))
    assert await first.verify_audit() is None
    rows = await second.audit_rows()
    assert [r.seq for r in rows] == list(range(1, 13))

    db = moto.client("dynamodb")
    db.update_item(
        TableName="pm-test-audit",
        Key={"seq": {"N": "5"}},
        UpdateExpression="SET actor = :a",
        ExpressionAttributeValues={":a": {"S": "mallory"}},
    )
    assert await first.verify_audit() == (
        "audit row 5 was changed after it was written (its hash does not match)"
    )


async def test_audit_finds_a_deleted_row_and_a_cut_tail(moto: MotoAccount) -> None:
    clock = FakeClock()
    table = await _tables(moto, clock)
    for n in range(4):
        assert await table.append_audit("agent-a", "step", f"inc-{n}", None) == n + 1
    rows = await table.audit_rows()
    assert rows[0].at == clock.now() and audit_time(rows[0].at).endswith("Z")
    db = moto.client("dynamodb")
    db.delete_item(TableName="pm-test-audit", Key={"seq": {"N": "4"}})
    assert (
        await table.verify_audit()
        == "audit row 4 is missing (the log ends before its recorded head)"
    )
    db.delete_item(TableName="pm-test-audit", Key={"seq": {"N": "2"}})
    assert await table.verify_audit() == "audit row 2 is missing (the chain jumps from 1 to 3)"


@pytest.mark.parametrize(
    "url",
    [
        "dynamo://x-prefix",
        "dynamodb://",
        "dynamodb://pre:fix",
        "dynamodb://pre fix",
        "dynamodb://prefix/more",
        "dynamodb://prefix?zone=a",
        "dynamodb://prefix?region=",
    ],
)
def test_a_bad_url_names_the_key_and_the_form(url: str) -> None:
    from paramedic.catalog.aws import AwsSettings

    with pytest.raises(StoreError) as caught:
        ClaimTable.from_url(url, AwsSettings(region="us-east-1"))
    message = str(caught.value)
    assert message.startswith("agent.claims: ")
    assert "dynamodb://TABLE_PREFIX[?region=REGION]" in message
    assert "\n" not in message


def test_region_in_the_url_overrides_the_catalog() -> None:
    from paramedic.catalog.aws import AwsSettings

    table = ClaimTable.from_url(
        "dynamodb://paramedic?region=eu-west-1", AwsSettings(region="us-east-1")
    )
    assert (table.prefix, table.settings.region, table.claims_table) == (
        "paramedic",
        "eu-west-1",
        "paramedic-claims",
    )
