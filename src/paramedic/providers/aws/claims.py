"""DynamoDB claims: agents on AWS claim each recovery exactly once, and mirror what they do.

Decision: the SQL state store stays the store of record. DBOS Transact, which
makes the recovery workflow durable, needs SQL (SQLite or PostgreSQL), and the
store answers about a hundred queries that DynamoDB would have to emulate with
scans. For AWS deployments with several agents, ``agent.claims:
dynamodb://TABLE_PREFIX[?region=REGION]`` adds three DynamoDB tables beside it:

- ``PREFIX-claims``: one item per incident; an agent owns the recovery while it
  holds an unexpired lease. The claim is a conditional PutItem
  (``attribute_not_exists(incident_id) OR expires_at < :now OR holder = :me``),
  so of agents racing for one incident exactly one wins, a lease that ran out
  lets another agent take over, and an agent that crashed and came back
  resumes its own claim.
- ``PREFIX-incidents``: a mirror of components (``pk = component#NAME``),
  incidents (``pk = incident#ID, sk = incident``) and their steps
  (``sk = step#00001``) as redacted canonical JSON, for the AWS side (a
  dashboard, a Lambda, Step Functions) to read without reaching the SQL store.
- ``PREFIX-audit``: the audit log, hash-chained exactly as the SQL store's
  (``paramedic.store.audit``); the item ``seq = 0`` is the head (newest seq and
  hash), and a row is appended in one transaction with a conditional update of
  that head, so concurrent agents never share a sequence number.

Writes go through ``session.call`` (AWS errors become ``AwsError`` naming the
API and the key); a malformed URL is a ``StoreError`` naming ``agent.claims``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from paramedic.catalog.aws import AwsSettings
from paramedic.clock import Clock, RealClock
from paramedic.errors import StoreError
from paramedic.providers.aws.session import AwsError, call, client, error_code, wait_for
from paramedic.store.audit import (
    GENESIS_HASH,
    AuditHead,
    audit_hash,
    audit_time,
    canonical_json,
    clean_detail,
    verify_chain,
)
from paramedic.store.rows import AuditRow

URL_FORM = "dynamodb://TABLE_PREFIX[?region=REGION]"
_PREFIX = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
_APPEND_ATTEMPTS = 50

IAM_ACTIONS: dict[str, tuple[str, ...]] = {
    "agent:claims": (
        "dynamodb:ConditionCheckItem",
        "dynamodb:CreateTable",
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:TagResource",
        "dynamodb:UpdateItem",
    ),
}
"""Feature -> the IAM actions it calls (TransactWriteItems is authorised per item action)."""


def table_layouts(prefix: str) -> dict[str, list[tuple[str, str, str]]]:
    """Table name -> its key attributes ``(name, type, HASH|RANGE)``, for ``ensure_tables`` and the template."""
    return {
        f"{prefix}-claims": [("incident_id", "S", "HASH")],
        f"{prefix}-incidents": [("pk", "S", "HASH"), ("sk", "S", "RANGE")],
        f"{prefix}-audit": [("seq", "N", "HASH")],
    }


@dataclass(frozen=True)
class Claim:
    """The outcome of one claim: whether this agent won, who holds it, until when."""

    won: bool
    holder: str
    expires_at: datetime


def parse_claims_url(url: str) -> tuple[str, str | None]:
    """``(prefix, region or None)`` of ``dynamodb://PREFIX[?region=R]``; ``StoreError`` naming ``agent.claims``."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    bad = (
        parts.scheme != "dynamodb"
        or not _PREFIX.match(parts.netloc)
        or parts.path not in ("", "/")
        or set(query) - {"region"}
        or any(len(v) != 1 or not v[0] for v in query.values())
    )
    if bad:
        raise StoreError(
            f"agent.claims: {url!r} is not of the form {URL_FORM}"
            " (prefix: 1-200 of A-Z a-z 0-9 _ . -)"
        )
    return parts.netloc, query["region"][0] if "region" in query else None


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def _from_ms(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def _mirror_body(value: Mapping[str, Any] | str) -> str:
    """Canonical JSON with secrets redacted (a JSON string is parsed first)."""
    parsed = json.loads(value) if isinstance(value, str) else value
    return canonical_json(clean_detail(parsed))


class ClaimTable:
    """The three DynamoDB tables of one ``agent.claims`` prefix."""

    def __init__(self, prefix: str, settings: AwsSettings, clock: Clock | None = None) -> None:
        self.prefix = prefix
        self.settings = settings
        self.clock: Clock = clock or RealClock()
        self.claims_table = f"{prefix}-claims"
        self.incidents_table = f"{prefix}-incidents"
        self.audit_table = f"{prefix}-audit"
        self._db = client(settings, "dynamodb")

    @classmethod
    def from_url(cls, url: str, settings: AwsSettings, clock: Clock | None = None) -> ClaimTable:
        """The tables named by ``dynamodb://PREFIX[?region=R]``; ``region`` overrides ``settings``."""
        prefix, region = parse_claims_url(url)
        if region is not None:
            settings = settings.model_copy(update={"region": region})
        return cls(prefix, settings, clock)

    # ------------------------------------------------------------ tables

    async def ensure_tables(self) -> None:
        """Create the three tables (on-demand billing) when missing; return once all are ACTIVE."""
        layouts = table_layouts(self.prefix)
        for name, keys in layouts.items():
            try:
                await call(
                    self._db,
                    "CreateTable",
                    name,
                    TableName=name,
                    BillingMode="PAY_PER_REQUEST",
                    AttributeDefinitions=[
                        {"AttributeName": k, "AttributeType": t} for k, t, _ in keys
                    ],
                    KeySchema=[{"AttributeName": k, "KeyType": r} for k, _, r in keys],
                    Tags=[{"Key": "paramedic:role", "Value": "claims"}],
                )
            except AwsError as exc:
                if exc.code != "ResourceInUseException":
                    raise
        for name in layouts:
            await wait_for(
                functools.partial(self._active, name),
                within=timedelta(minutes=5),
                interval=self.settings.poll,
                what=f"DynamoDB table {name} to be ACTIVE",
            )

    async def _active(self, name: str) -> bool | None:
        answer = await call(self._db, "DescribeTable", name, TableName=name)
        return True if answer["Table"]["TableStatus"] == "ACTIVE" else None

    # ------------------------------------------------------------ claims

    async def claim(
        self, incident_id: str, component: str, agent_id: str, lease: timedelta
    ) -> Claim:
        """Claim ``incident_id`` for ``agent_id`` for ``lease``; exactly one racing agent wins.

        Wins when nobody holds it, the holder's lease has run out, or ``agent_id``
        already holds it (its lease is renewed: an agent resuming after a crash).
        """
        for _ in range(3):
            now = self.clock.now()
            expires = now + lease
            try:
                await call(
                    self._db,
                    "PutItem",
                    incident_id,
                    TableName=self.claims_table,
                    Item={
                        "incident_id": {"S": incident_id},
                        "component": {"S": component},
                        "holder": {"S": agent_id},
                        "claimed_at": {"N": str(_ms(now))},
                        "expires_at": {"N": str(_ms(expires))},
                    },
                    ConditionExpression="attribute_not_exists(incident_id)"
                    " OR expires_at < :now OR holder = :me",
                    ExpressionAttributeValues={
                        ":now": {"N": str(_ms(now))},
                        ":me": {"S": agent_id},
                    },
                )
                return Claim(True, agent_id, _from_ms(_ms(expires)))
            except AwsError as exc:
                if exc.code != "ConditionalCheckFailedException":
                    raise
            held = await self.holder(incident_id)
            if held is not None:
                return held
            # released and deleted between our write and our read: try again
        raise StoreError(
            f"claims {self.claims_table} {incident_id}: the claim keeps changing hands"
        )

    async def holder(self, incident_id: str) -> Claim | None:
        """Who holds ``incident_id`` now (``won`` is False: this is a reading), None when unclaimed."""
        answer = await call(
            self._db,
            "GetItem",
            incident_id,
            TableName=self.claims_table,
            Key={"incident_id": {"S": incident_id}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        if item is None:
            return None
        return Claim(False, item["holder"]["S"], _from_ms(item["expires_at"]["N"]))

    async def release(self, incident_id: str, agent_id: str) -> bool:
        """End ``agent_id``'s lease on ``incident_id`` now; False (and nothing changed) when another agent holds it."""
        try:
            await call(
                self._db,
                "UpdateItem",
                incident_id,
                TableName=self.claims_table,
                Key={"incident_id": {"S": incident_id}},
                UpdateExpression="SET expires_at = :zero, released_at = :now",
                ConditionExpression="holder = :me",
                ExpressionAttributeValues={
                    ":zero": {"N": "0"},
                    ":now": {"N": str(_ms(self.clock.now()))},
                    ":me": {"S": agent_id},
                },
            )
        except AwsError as exc:
            if exc.code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # ------------------------------------------------------------ mirror

    async def _put_mirror(self, pk: str, sk: str, body: str, extra: Mapping[str, str]) -> None:
        item = {"pk": {"S": pk}, "sk": {"S": sk}, "body": {"S": body}}
        item["updated_at"] = {"S": audit_time(self.clock.now())}
        item.update({k: {"S": v} for k, v in extra.items() if v})
        await call(self._db, "PutItem", pk, TableName=self.incidents_table, Item=item)

    async def record_component(self, name: str, component_json: Mapping[str, Any] | str) -> None:
        """Mirror component ``name`` (a JSON object, or its text) as ``pk = component#NAME``."""
        await self._put_mirror(f"component#{name}", "component", _mirror_body(component_json), {})

    async def record_incident(self, incident: Mapping[str, Any]) -> None:
        """Mirror an incident (``IncidentRow.to_json()``; needs ``id``) as ``pk = incident#ID``."""
        incident_id = incident.get("id")
        if not isinstance(incident_id, str) or not incident_id:
            raise StoreError("claims mirror: an incident needs a non-empty string 'id'")
        extra = {k: str(incident[k]) for k in ("component", "state") if incident.get(k)}
        await self._put_mirror(f"incident#{incident_id}", "incident", _mirror_body(incident), extra)

    async def record_step(self, incident_id: str, step: Mapping[str, Any]) -> None:
        """Mirror one step (``StepRow.to_json()``; needs ``seq``) under its incident."""
        seq = step.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            raise StoreError(f"claims mirror: step of {incident_id} needs a 'seq' integer >= 0")
        extra = {k: str(step[k]) for k in ("strategy", "status") if step.get(k)}
        await self._put_mirror(
            f"incident#{incident_id}", f"step#{seq:05d}", _mirror_body(step), extra
        )

    async def mirrored(self, pk: str) -> list[dict[str, Any]]:
        """The mirrored bodies under ``pk`` (``incident#ID``: the incident, then its steps)."""
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self.incidents_table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": True,
        }
        while True:
            answer = await call(self._db, "Query", pk, **request)
            items.extend(json.loads(i["body"]["S"]) for i in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return items
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    # ------------------------------------------------------------ audit

    async def append_audit(
        self, actor: str, action: str, target: str, detail: Mapping[str, Any] | None = None
    ) -> int:
        """Append one audit row chained to the previous one; returns its sequence number.

        The next seq is taken with a conditional write on the head item (``seq = 0``)
        in the same transaction as the row; a lost race reads the head again.
        """
        clean = clean_detail(detail)
        for _ in range(_APPEND_ATTEMPTS):
            head = await self._head()
            seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
            at = self.clock.now()
            digest = audit_hash(
                prev, seq=seq, at=at, actor=actor, action=action, subject=target, detail=clean
            )
            row = {
                "seq": {"N": str(seq)},
                "at": {"S": audit_time(at)},
                "actor": {"S": actor},
                "action": {"S": action},
                "subject": {"S": target},
                "detail": {"S": canonical_json(clean)},
                "prev_hash": {"S": prev},
                "hash": {"S": digest},
            }
            head_update: dict[str, Any] = {
                "TableName": self.audit_table,
                "Key": {"seq": {"N": "0"}},
                "UpdateExpression": "SET head_seq = :seq, head_hash = :hash",
                "ExpressionAttributeValues": {
                    ":seq": {"N": str(seq)},
                    ":hash": {"S": digest},
                },
            }
            if head is None:
                head_update["ConditionExpression"] = "attribute_not_exists(head_seq)"
            else:
                head_update["ConditionExpression"] = "head_seq = :prev"
                head_update["ExpressionAttributeValues"][":prev"] = {"N": str(head.seq)}
            try:
                await call(
                    self._db,
                    "TransactWriteItems",
                    f"{self.audit_table} seq {seq}",
                    TransactItems=[
                        {"Update": head_update},
                        {
                            "Put": {
                                "TableName": self.audit_table,
                                "Item": row,
                                "ConditionExpression": "attribute_not_exists(seq)",
                            }
                        },
                    ],
                )
                return seq
            except AwsError as exc:
                if error_code(exc) not in ("TransactionCanceledException", "TransactionConflict"):
                    raise
                await asyncio.sleep(
                    random.uniform(0, 0.02)
                )  # another agent appended: spread retries
        raise StoreError(
            f"claims audit {self.audit_table}: could not append after {_APPEND_ATTEMPTS} tries"
            " (too many agents writing at once)"
        )

    async def _head(self) -> AuditHead | None:
        answer = await call(
            self._db,
            "GetItem",
            f"{self.audit_table} head",
            TableName=self.audit_table,
            Key={"seq": {"N": "0"}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        if item is None or "head_seq" not in item:
            return None
        return AuditHead(int(item["head_seq"]["N"]), item["head_hash"]["S"])

    async def audit_rows(self) -> list[AuditRow]:
        """Every audit row, in seq order (the head item left out)."""
        rows: list[AuditRow] = []
        request: dict[str, Any] = {"TableName": self.audit_table, "ConsistentRead": True}
        while True:
            answer = await call(self._db, "Scan", self.audit_table, **request)
            for item in answer.get("Items", []):
                if item["seq"]["N"] != "0":
                    rows.append(_audit_row(item))
            if "LastEvaluatedKey" not in answer:
                return sorted(rows, key=lambda r: r.seq)
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    async def verify_audit(self) -> str | None:
        """None when the chain is intact up to its head, else why the first broken row breaks it."""
        verdict = verify_chain(await self.audit_rows(), await self._head())
        return None if verdict.ok else verdict.reason


def _audit_row(item: Mapping[str, Any]) -> AuditRow:
    def text(key: str) -> str:
        return str(item.get(key, {}).get("S", ""))

    try:
        at = datetime.strptime(text("at"), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        detail = json.loads(text("detail") or "{}")
    except ValueError:
        # an unreadable row must still fail verification, not crash it
        at, detail = datetime.fromtimestamp(0, tz=UTC), {"unreadable": text("detail")}
    return AuditRow(
        seq=int(item["seq"]["N"]),
        at=at,
        actor=text("actor"),
        action=text("action"),
        subject=text("subject"),
        detail=detail if isinstance(detail, dict) else {"unreadable": detail},
        prev_hash=text("prev_hash"),
        hash=text("hash"),
    )
