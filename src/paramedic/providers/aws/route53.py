"""Route 53: UPSERT of a record (the re-pointing step of recoveries) and health check status.

``upsert_record`` is shared by every provider that cuts clients over to a
replacement (EC2 instances, restored RDS instances, ElastiCache clusters). It
returns only once Route 53 reports the change ``INSYNC`` (``GetChange``), so a
cut-over is not declared done, and verification does not start, while the
authoritative servers still answer with the old value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from paramedic.catalog.aws import AwsSettings
from paramedic.providers.aws.iam import actions_of, calls
from paramedic.providers.aws.session import call, client, wait_for


@calls("route53:GetChange")
async def wait_insync(settings: AwsSettings, change_id: str, within: timedelta) -> None:
    """Poll ``GetChange`` every ``aws.poll_interval`` until ``change_id`` is INSYNC; AwsError after ``within``."""
    route53 = client(settings, "route53")

    async def probe() -> bool | None:
        found = await call(route53, "GetChange", change_id, Id=change_id)
        return True if found.get("ChangeInfo", {}).get("Status") == "INSYNC" else None

    await wait_for(
        probe, within=within, interval=settings.poll, what=f"Route 53 change {change_id} INSYNC"
    )


@calls("route53:ChangeResourceRecordSets", uses=(wait_insync,))
async def upsert_record(
    settings: AwsSettings,
    zone_id: str,
    name: str,
    type: str,
    value: str,
    ttl: int = 60,
    *,
    within: timedelta,
) -> str:
    """Create or replace the record ``name`` ``type`` in hosted zone ``zone_id`` with one ``value``.

    ``zone_id`` may be ``Z123`` or ``/hostedzone/Z123``; ``type`` is ``A``, ``AAAA``
    or ``CNAME``; ``value`` an IP address or a host name. UPSERT is idempotent, so a
    repeated recovery step may call it again. Waits (at most ``within``, the step's
    timeout) until the change is ``INSYNC``; returns the change id (``/change/C…``).
    """
    route53 = client(settings, "route53")
    zone = zone_id.removeprefix("/hostedzone/")
    answer = await call(
        route53,
        "ChangeResourceRecordSets",
        f"{zone} {name}",
        HostedZoneId=zone,
        ChangeBatch={
            "Comment": "paramedic re-points the record at the recovered component",
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": name,
                        "Type": type,
                        "TTL": ttl,
                        "ResourceRecords": [{"Value": value}],
                    },
                }
            ],
        },
    )
    # Asked even when the answer says INSYNC already (AWS's says PENDING): one GetChange is cheap.
    change_id = str(answer.get("ChangeInfo", {}).get("Id", ""))
    await wait_insync(settings, change_id, within)
    return change_id


@calls("route53:ListResourceRecordSets")
async def record_values(settings: AwsSettings, zone_id: str, name: str, type: str) -> list[str]:
    """The values of record ``name`` ``type`` in ``zone_id`` (empty when it does not exist)."""
    route53 = client(settings, "route53")
    zone = zone_id.removeprefix("/hostedzone/")
    answer = await call(
        route53,
        "ListResourceRecordSets",
        f"{zone} {name}",
        HostedZoneId=zone,
        StartRecordName=name,
        StartRecordType=type,
        MaxItems="1",
    )
    wanted = name.rstrip(".") + "."
    for record in answer.get("ResourceRecordSets", []):
        if record.get("Name") == wanted and record.get("Type") == type:
            return [str(r["Value"]) for r in record.get("ResourceRecords", [])]
    return []


@dataclass(frozen=True)
class HealthCheckStatus:
    """What Route 53's checkers last reported for one health check."""

    health_check_id: str
    healthy_checkers: int
    checkers: int
    sample: str
    """One failing checker's report (or a passing one when none fails)."""

    @property
    def healthy(self) -> bool:
        """Healthy when most checkers report success (Route 53's own rule is a configurable share)."""
        return self.checkers > 0 and self.healthy_checkers * 2 > self.checkers


@calls("route53:GetHealthCheckStatus")
async def health_check_status(settings: AwsSettings, id: str) -> HealthCheckStatus:
    """The latest observations of Route 53 health check ``id`` from its checkers."""
    route53 = client(settings, "route53")
    answer = await call(route53, "GetHealthCheckStatus", id, HealthCheckId=id)
    observations = answer.get("HealthCheckObservations", [])
    reports = [str(o.get("StatusReport", {}).get("Status", "")) for o in observations]
    good = [r for r in reports if r.startswith("Success")]
    bad = [r for r in reports if not r.startswith("Success")]
    sample = (bad or good or [""])[0]
    return HealthCheckStatus(id, len(good), len(reports), " ".join(sample.split()))


IAM_ACTIONS: dict[str, tuple[str, ...]] = {
    "repoint:route53": actions_of(upsert_record),
    "check:aws.route53_health": actions_of(health_check_status),
}
"""Feature -> the IAM actions it calls (from the ``@calls`` declarations above)."""
