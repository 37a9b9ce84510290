"""What the AWS data providers share: names carrying the incident, paramedic's tags, re-pointing.

Everything paramedic creates or sets aside in AWS is tagged ``paramedic:incident=<id>``
with a ``paramedic:role`` (``restored``, ``damaged``, ``verification``), so a repeated step
finds what the first attempt made instead of making it again.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from paramedic.catalog.aws import AwsSettings
from paramedic.providers.aws.data_specs import Route53Record
from paramedic.providers.aws.iam import calls
from paramedic.providers.aws.route53 import upsert_record

TAG_INCIDENT = "paramedic:incident"
TAG_ROLE = "paramedic:role"
TAG_REPLACES = "paramedic:replaces"
TAG_RESTORED_TO = "paramedic:restored-to"
TAG_VERIFICATION = "paramedic:verification"


def short_id(text: str) -> str:
    """Eight hex digits standing for ``text`` (an incident or drill id) in AWS identifiers."""
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def derived_id(base: str, suffix: str, limit: int) -> str:
    """``<base>-<suffix>`` within ``limit`` characters (``base`` cut short, never ending in '-')."""
    room = limit - len(suffix) - 1
    return f"{base[:room].rstrip('-')}-{suffix}"


def safe_name(text: str) -> str:
    """``text`` as an AWS identifier part: lowercase letters, digits, single hyphens."""
    cleaned = re.sub(r"[^a-z0-9]+", "-", text.lower())
    return cleaned.strip("-") or "x"


def tag_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    """``[{"Key": k, "Value": v}]`` as ``{k: v}``."""
    return {t["Key"]: t.get("Value", "") for t in tags or []}


def tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """``{k: v}`` as ``[{"Key": k, "Value": v}]``."""
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def user_tags(tags: list[dict[str, str]] | None) -> dict[str, str]:
    """A resource's tags without paramedic's own (a copy must not inherit an old incident's)."""
    return {k: v for k, v in tag_dict(tags).items() if not k.startswith(("paramedic:", "aws:"))}


def incident_tags(incident_id: str, role: str, **extra: str) -> dict[str, str]:
    """Tags naming the incident that made or set aside a resource, and its role."""
    return {TAG_INCIDENT: incident_id, TAG_ROLE: role, **extra}


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with seconds (for tags and journal lines)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def from_iso(text: str | None) -> datetime | None:
    """A tag written by ``iso`` back as a datetime; None when absent or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def utc(moment: Any) -> datetime | None:
    """A botocore timestamp (aware datetime) in UTC; None when absent."""
    if not isinstance(moment, datetime):
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@calls(uses=(upsert_record,))
async def upsert_cname(
    settings: AwsSettings, record: Route53Record, value: str, within: timedelta
) -> str:
    """Point ``record`` at ``value`` (CNAME UPSERT, waited for until INSYNC, at most ``within``)."""
    await upsert_record(
        settings, record.zone_id, record.name, "CNAME", value, record.ttl, within=within
    )
    return f"Route 53 {record.name} (zone {record.zone_id}) -> CNAME {value} (in sync)"
