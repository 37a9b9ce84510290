"""The audit chain's pure logic: canonical JSON, row hashes, and what verification catches."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from paramedic.store.audit import (
    GENESIS_HASH,
    AuditHead,
    audit_hash,
    canonical_json,
    clean_detail,
    row_hash,
    verify_chain,
)
from paramedic.store.rows import AuditRow

T0 = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)


def chain(n: int) -> list[AuditRow]:
    """``n`` correctly chained rows, one second apart."""
    rows: list[AuditRow] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        at = T0 + timedelta(seconds=seq)
        detail: dict[str, Any] = {"n": seq, "tags": ["a", "b"]}
        digest = audit_hash(
            prev, seq=seq, at=at, actor="paramedic", action="note", subject="web", detail=detail
        )
        rows.append(AuditRow(seq, at, "paramedic", "note", "web", detail, prev, digest))
        prev = digest
    return rows


def rechain(rows: list[AuditRow]) -> list[AuditRow]:
    """``rows`` renumbered 1..n and re-linked, as a forger who recomputes everything would."""
    out: list[AuditRow] = []
    prev = GENESIS_HASH
    for seq, row in enumerate(rows, start=1):
        fixed = dataclasses.replace(row, seq=seq, prev_hash=prev, hash="")
        fixed = dataclasses.replace(fixed, hash=row_hash(fixed))
        out.append(fixed)
        prev = fixed.hash
    return out


def test_the_hash_is_sha256_of_prev_hash_and_the_canonical_row() -> None:
    body = (
        '{"action":"incident.opened","actor":"paramedic","at":"2026-01-01T12:00:00.123456Z",'
        '"detail":{"a":1,"b":[true,null]},"seq":1,"subject":"inc-1"}'
    )
    expected = hashlib.sha256((GENESIS_HASH + body).encode()).hexdigest()
    got = audit_hash(
        GENESIS_HASH,
        seq=1,
        at=T0,
        actor="paramedic",
        action="incident.opened",
        subject="inc-1",
        detail={"b": [True, None], "a": 1},
    )
    assert got == expected


def test_the_hash_does_not_depend_on_the_time_zone_the_time_is_given_in() -> None:
    tokyo = T0.astimezone(timezone(timedelta(hours=9)))
    fields: dict[str, Any] = {"seq": 1, "actor": "a", "action": "b", "subject": "c", "detail": {}}
    assert audit_hash(GENESIS_HASH, at=T0, **fields) == audit_hash(GENESIS_HASH, at=tokyo, **fields)


def test_canonical_json_is_deterministic_and_strict() -> None:
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"\\u00e9","b":1}'
    assert canonical_json({"at": T0}) == '{"at":"2026-01-01T12:00:00.123Z"}'
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        canonical_json({"x": math.nan})
    with pytest.raises(TypeError, match="cannot put a object in an audit record"):
        canonical_json({"x": object()})


def test_details_are_redacted_and_reduced_to_json_types() -> None:
    detail = clean_detail(
        {
            "dsn": "postgresql://app:s3cret@db/orders",
            "nested": [{"cmd": "login password=pw"}],
            "n": 2,
        }
    )
    assert detail == {
        "dsn": "postgresql://app:***@db/orders",
        "nested": [{"cmd": "login password=***"}],
        "n": 2,
    }
    assert clean_detail(None) == {}


def test_an_intact_chain_verifies() -> None:
    rows = chain(5)
    verdict = verify_chain(rows, AuditHead(5, rows[-1].hash))
    assert (verdict.ok, verdict.checked, verdict.first_bad_seq) == (True, 5, None)
    assert verdict.reason == "audit chain intact: 5 rows"
    empty = verify_chain([], AuditHead(0, GENESIS_HASH))
    assert (empty.ok, empty.checked) == (True, 0)


@pytest.mark.parametrize("field", ["at", "actor", "action", "subject", "detail"])
@pytest.mark.parametrize("index", range(5))
def test_any_edit_of_any_row_is_caught_at_that_row(field: str, index: int) -> None:
    rows = chain(5)
    changed: dict[str, Any] = {
        "at": rows[index].at + timedelta(microseconds=1),
        "actor": "mallory",
        "action": "other",
        "subject": "db",
        "detail": {**rows[index].detail, "n": 99},
    }
    rows[index] = dataclasses.replace(rows[index], **{field: changed[field]})
    verdict = verify_chain(rows, AuditHead(5, rows[-1].hash))
    seq = index + 1
    assert (verdict.ok, verdict.first_bad_seq, verdict.checked) == (False, seq, seq)
    assert verdict.reason == (
        f"audit row {seq} was changed after it was written (its hash does not match)"
    )


def test_a_deleted_row_leaves_a_gap() -> None:
    rows = chain(5)
    del rows[2]
    verdict = verify_chain(rows, AuditHead(5, rows[-1].hash))
    assert (verdict.ok, verdict.first_bad_seq) == (False, 3)
    assert verdict.reason == "audit row 3 is missing (the chain jumps from 2 to 4)"
    first_gone = verify_chain(chain(3)[1:])
    assert (first_gone.first_bad_seq, first_gone.reason) == (
        1,
        "audit row 1 is missing (the chain jumps from 0 to 2)",
    )


def test_a_deleted_row_with_renumbered_seqs_breaks_the_link() -> None:
    rows = chain(5)
    del rows[2]
    renumbered = [dataclasses.replace(r, seq=i) for i, r in enumerate(rows, start=1)]
    verdict = verify_chain(renumbered)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 3)
    assert verdict.reason == (
        "audit row 3 does not link to row 2 (a row was removed or inserted before it)"
    )


def test_an_inserted_row_breaks_the_link_after_it() -> None:
    rows = chain(4)
    forged = dataclasses.replace(rows[1], actor="mallory")
    forged = dataclasses.replace(forged, hash=row_hash(forged))
    spliced = [*rows[:2], forged, *rows[2:]]
    renumbered = [dataclasses.replace(r, seq=i) for i, r in enumerate(spliced, start=1)]
    verdict = verify_chain(renumbered)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 3)
    assert verdict.reason.startswith("audit row 3 does not link to row 2")


def test_the_head_catches_a_cut_tail_and_rows_added_after_it() -> None:
    rows = chain(5)
    head = AuditHead(5, rows[-1].hash)
    one = verify_chain(rows[:4], head)
    assert (one.ok, one.first_bad_seq, one.checked) == (False, 5, 4)
    assert one.reason == "audit row 5 is missing (the log ends before its recorded head)"
    two = verify_chain(rows[:3], head)
    assert two.reason == "audit rows 4 to 5 are missing (the log ends before its recorded head)"
    added = verify_chain(chain(6), head)
    assert (added.ok, added.first_bad_seq) == (False, 6)
    assert added.reason == "audit row 6 was added outside paramedic (past the recorded head)"


def test_a_fully_rewritten_chain_still_disagrees_with_the_head() -> None:
    rows = chain(5)
    head = AuditHead(5, rows[-1].hash)
    rewritten = rechain([dataclasses.replace(r, actor="mallory") for r in rows])
    assert verify_chain(rewritten).ok  # without the head, a full rewrite is invisible
    verdict = verify_chain(rewritten, head)
    assert (verdict.ok, verdict.first_bad_seq) == (False, 5)
    assert verdict.reason == "audit row 5 does not match the recorded head"


def test_a_duplicated_seq_is_caught() -> None:
    rows = chain(3)
    verdict = verify_chain([rows[0], rows[1], rows[1], rows[2]])
    assert (verdict.ok, verdict.first_bad_seq) == (False, 2)
    assert verdict.reason == "audit row 2 appears twice or out of order"
