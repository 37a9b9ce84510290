"""``paramedic discover aws`` against moto's server: the single-location resources of a mixed
account, the draft catalog they make, and drift once the account changes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from paramedic.catalog.loader import load_catalog
from paramedic.discover.aws import discover_aws
from paramedic.discover.draft import draft_yaml
from paramedic.discover.drift import find_drift
from paramedic.plan import analyze
from tests.aws_server import MotoAccount
from tests.e2e.harness import PARAMEDIC
from tests.integration.aws.discover_setup import build_mixed

pytestmark = pytest.mark.integration


def paramedic(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real CLI as a subprocess, with extra environment (AWS_ENDPOINT_URL)."""
    return subprocess.run(
        [*PARAMEDIC, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


async def test_exactly_the_single_location_resources_with_reasons_and_dependencies(
    tmp_path: Path, moto: MotoAccount
) -> None:
    account = build_mixed(moto)
    found = await discover_aws(moto.settings)
    by_name = {f.name: f for f in found.findings}
    assert set(by_name) == {"orders", "web-1", "web-2", "batch", "sessions", "tg-web", "front"}
    assert {(o.kind, o.resource, o.reason) for o in found.left_out} == {
        ("rds_instance", "billing", "Multi-AZ"),
        ("asg", "spread", "spread over several AZs: us-east-1a, us-east-1b"),
        ("elasticache_replication_group", "carts", "automatic failover, Multi-AZ"),
    }
    assert by_name["orders"].constraint == "RDS MultiAZ is false; storage 500 GiB gp3"
    assert by_name["orders"].criticality == "critical"
    assert by_name["orders"].sources["criticality"] == "tag criticality=critical"
    assert by_name["web-1"].criticality == "important"
    assert "important assumed" in by_name["web-1"].sources["criticality"]
    assert by_name["batch"].constraint.startswith(
        "Auto Scaling group batch: every subnet is in us-east-1a"
    )
    assert by_name["sessions"].constraint.startswith(
        "ElastiCache redis cluster sessions: one node (cache.t3.micro)"
    )
    assert (
        by_name["front"].constraint
        == "network load balancer front is enabled in one AZ (us-east-1a)"
    )
    assert by_name["web-1"].spec["data_volume"].startswith("vol-")
    assert "(50 GiB gp3) at /dev/sdg: data bound to us-east-1a" in by_name["web-1"].constraint
    # dependencies: the db's and the cache's security groups admit the web group; the
    # target group routes to both instances and the NLB forwards to the target group
    assert by_name["web-1"].depends_on == ["orders", "sessions"]
    assert by_name["web-2"].depends_on == ["orders", "sessions"]
    assert "admits" in by_name["web-1"].sources["depends_on.orders"]
    assert by_name["web-1"].sources["depends_on.sessions"] == (
        "tag session_store=sessions names sessions"
    )
    assert by_name["tg-web"].depends_on == ["web-1", "web-2"]
    assert by_name["front"].depends_on == ["tg-web"]
    assert by_name["web-1"].spec["target_group_arns"] == [account.target_group]
    assert not by_name["front"].catalogued and not by_name["tg-web"].catalogued

    path = tmp_path / "draft.yaml"
    text = draft_yaml(found)
    path.write_text(text)
    catalog = load_catalog(path)
    assert set(catalog.components) == {"orders", "web-1", "web-2", "batch", "sessions"}
    assert catalog.components["orders"].rpo.total_seconds() == 15 * 60
    plan = analyze(catalog)
    assert plan.gaps == [], [g.reason for g in plan.gaps]
    rows = {row.name: row for row in plan.inventory}
    assert rows["orders"].dependents == ["web-1", "web-2"]
    # the draft says where values came from, and what has no provider
    assert "# BackupRetentionPeriod 7 days: point-in-time restore" in text
    assert "#   front: load_balancer" in text
    assert (
        "# blast radius: 1. orders (critical): 4 depend on it: front, tg-web, web-1, web-2" in text
    )
    assert "# left out: rds_instance billing: Multi-AZ" in text


async def test_against_reports_exactly_the_three_changes(tmp_path: Path, moto: MotoAccount) -> None:
    account = build_mixed(moto)
    path = tmp_path / "paramedic.yaml"
    path.write_text(draft_yaml(await discover_aws(moto.settings)))
    catalog = load_catalog(path)
    assert find_drift(catalog, await discover_aws(moto.settings), aws=True) == []

    moto.client("rds").modify_db_instance(
        DBInstanceIdentifier="orders", MultiAZ=True, ApplyImmediately=True
    )
    moto.client("ec2").terminate_instances(InstanceIds=[account.web_2])
    web_3 = account.run_web("web-3")
    drifts = find_drift(catalog, await discover_aws(moto.settings), aws=True)
    assert [(d.kind, d.component, d.resource) for d in drifts] == [
        ("gone", "web-2", account.web_2),
        ("no_longer_single_location", "orders", "orders"),
        ("new", None, web_3),
    ]
    assert drifts[1].reason == "rds_instance orders is not single-location any more: Multi-AZ"

    done = paramedic("discover", "aws", "--against", str(path), "--json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    shape = json.loads(done.stdout)
    assert shape["against"]["counts"] == {"gone": 1, "no_longer_single_location": 1, "new": 1}
    assert [d["kind"] for d in shape["against"]["drift"]] == [
        "gone",
        "no_longer_single_location",
        "new",
    ]


async def test_backups_switched_off_is_an_objective_the_resource_cannot_meet(
    tmp_path: Path, moto: MotoAccount
) -> None:
    build_mixed(moto)
    path = tmp_path / "paramedic.yaml"
    path.write_text(draft_yaml(await discover_aws(moto.settings)))
    moto.client("rds").modify_db_instance(
        DBInstanceIdentifier="orders", BackupRetentionPeriod=0, ApplyImmediately=True
    )
    drifts = find_drift(load_catalog(path), await discover_aws(moto.settings), aws=True)
    assert [(d.kind, d.component) for d in drifts] == [("objective_unmet", "orders")]
    assert "BackupRetentionPeriod 0" in drifts[0].reason


async def test_tag_filter_keeps_only_matching_resources(moto: MotoAccount) -> None:
    build_mixed(moto)
    found = await discover_aws(moto.settings, tags={"criticality": "critical"})
    assert [f.name for f in found.findings] == ["orders"]


def test_cli_writes_a_draft_never_over_a_file_and_fails_in_one_line(
    tmp_path: Path, moto: MotoAccount
) -> None:
    build_mixed(moto)
    env = {"AWS_ENDPOINT_URL": moto.endpoint_url, "AWS_DEFAULT_REGION": moto.region}
    out = tmp_path / "draft.yaml"
    done = paramedic("discover", "aws", "-o", str(out), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "wrote the draft catalog to" in done.stderr
    assert "1. orders (critical): 4 depend on it" in done.stderr
    assert paramedic("validate", str(out), cwd=tmp_path).returncode == 0
    out.write_text("mine\n")
    again = paramedic("discover", "aws", "-o", str(out), cwd=tmp_path, env=env)
    assert again.returncode == 2
    assert again.stderr.strip() == (
        f"paramedic: {out} exists: give --force to overwrite it, or another -o FILE"
    )
    assert out.read_text() == "mine\n"
    forced = paramedic("discover", "aws", "-o", str(out), "--force", cwd=tmp_path, env=env)
    assert forced.returncode == 0 and out.read_text().startswith("# paramedic discover aws")
    down = paramedic(
        "discover", "aws", cwd=tmp_path, env={**env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    )
    assert down.returncode == 2
    assert len(down.stderr.strip().splitlines()) == 1
    assert "cannot reach the AWS endpoint" in down.stderr
    assert "Traceback" not in down.stderr
    bad = paramedic("discover", "aws", "--tag", "oops", cwd=tmp_path, env=env)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "paramedic: --tag 'oops': give KEY=VALUE, e.g. --tag team=orders"
