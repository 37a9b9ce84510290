"""The audit chain, as pure functions: canonical JSON, row hashes, chain verification.

Each audit row carries ``hash = sha256(prev_hash + canonical JSON of its other
fields)``, the first row chaining to ``GENESIS_HASH``. Editing a row breaks its
own hash; deleting one leaves a seq gap (or, after renumbering, a broken link);
rows added past the recorded head, or a tail cut short of it, disagree with the
head. An attacker who rewrites the whole chain and the head is not detected:
this is tamper evidence for accidents and casual edits, not a signature.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from paramedic.redact import redact
from paramedic.store.rows import AuditRow, AuditVerdict, iso_utc

GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first audit row."""


@dataclass(frozen=True)
class AuditHead:
    """The seq and hash of the newest audit row, kept apart from the rows themselves."""

    seq: int
    hash: str


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"cannot put a {type(value).__name__} in an audit record")


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, ASCII only, times as ISO ``Z`` strings."""
    return json.dumps(
        value,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
        default=_default,
    )


def audit_time(value: datetime) -> str:
    """A time in the form it is hashed: UTC, microseconds, ``Z``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    return value


def clean_detail(detail: Mapping[str, Any] | None) -> dict[str, Any]:
    """``detail`` as it will be stored and hashed: secrets redacted, JSON types only."""
    parsed: dict[str, Any] = json.loads(canonical_json(_redacted(dict(detail or {}))))
    return parsed


def audit_hash(
    prev_hash: str,
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    detail: Mapping[str, Any],
) -> str:
    """sha256 hex of ``prev_hash`` followed by the canonical JSON of the row's other fields."""
    body = canonical_json(
        {
            "seq": seq,
            "at": audit_time(at),
            "actor": actor,
            "action": action,
            "subject": subject,
            "detail": detail,
        }
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def row_hash(row: AuditRow) -> str:
    """The hash ``row`` should carry, recomputed from its content and its ``prev_hash``."""
    return audit_hash(
        row.prev_hash,
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        subject=row.subject,
        detail=row.detail,
    )


def _bad(checked: int, seq: int, reason: str) -> AuditVerdict:
    return AuditVerdict(ok=False, checked=checked, first_bad_seq=seq, reason=reason)


def verify_chain(rows: Iterable[AuditRow], head: AuditHead | None = None) -> AuditVerdict:
    """Walk ``rows`` in seq order; stop at the first row that breaks the chain.

    ``head`` is the recorded newest row; without it, a cut tail cannot be seen.
    """
    expected, prev, checked = 1, GENESIS_HASH, 0
    for row in rows:
        if row.seq != expected:
            if row.seq < expected:
                return _bad(checked, row.seq, f"audit row {row.seq} appears twice or out of order")
            return _bad(
                checked,
                expected,
                f"audit row {expected} is missing"
                f" (the chain jumps from {expected - 1} to {row.seq})",
            )
        checked += 1
        if row.prev_hash != prev:
            return _bad(
                checked,
                row.seq,
                f"audit row {row.seq} does not link to row {row.seq - 1}"
                " (a row was removed or inserted before it)",
            )
        if row_hash(row) != row.hash:
            return _bad(
                checked,
                row.seq,
                f"audit row {row.seq} was changed after it was written (its hash does not match)",
            )
        prev, expected = row.hash, expected + 1
    last = expected - 1
    if head is not None:
        if last < head.seq:
            gone = (
                f"row {head.seq} is"
                if last + 1 == head.seq
                else f"rows {last + 1} to {head.seq} are"
            )
            return _bad(
                checked, last + 1, f"audit {gone} missing (the log ends before its recorded head)"
            )
        if last > head.seq:
            return _bad(
                checked,
                head.seq + 1,
                f"audit row {head.seq + 1} was added outside paramedic (past the recorded head)",
            )
        if last > 0 and prev != head.hash:
            return _bad(checked, last, f"audit row {last} does not match the recorded head")
    return AuditVerdict(
        ok=True, checked=checked, first_bad_seq=None, reason=f"audit chain intact: {checked} rows"
    )
