"""Pure parts of discovery: names, criticality, blast radius order, drift keys, /proc parsing,
the agent's drift check with a fake clock and a recording notifier."""

from __future__ import annotations

import json
from datetime import timedelta
from io import StringIO
from pathlib import Path

from paramedic.catalog.loader import load_catalog
from paramedic.catalog.model import Event
from paramedic.clock import FakeClock
from paramedic.decisions import DecisionLog
from paramedic.discover.draft import worst_case_rto
from paramedic.discover.drift import Drift, resource_of
from paramedic.discover.finding import Finding, component_name, criticality_of
from paramedic.discover.impact import rank
from paramedic.discover.local_proc import haproxy_stats_socket, option, postmaster_pid
from paramedic.discover.watch import DriftWatch
from paramedic.errors import ProviderError
from paramedic.notify import RecordingNotifier


def _finding(name: str, criticality: str = "important", deps: list[str] | None = None) -> Finding:
    return Finding(
        name=name,
        kind="ec2_instance",
        resource=name,
        type="application_server",
        location="us-east-1a",
        constraint="",
        provider="aws.ec2",
        criticality=criticality,
        depends_on=deps or [],
    )


def test_names_come_from_the_name_tag_else_the_id() -> None:
    assert component_name("Orders DB (prod)", "db-1") == "orders-db-prod"
    assert component_name(None, "i-0abc") == "i-0abc"
    assert component_name("!!!", "i-0abc") == "i-0abc"


def test_criticality_from_a_tag_else_important_with_a_comment() -> None:
    sources: dict[str, str] = {}
    assert criticality_of({"paramedic:criticality": "Critical"}, sources) == "critical"
    assert sources["criticality"] == "tag paramedic:criticality=Critical"
    assert criticality_of({"criticality": "bogus"}, sources) == "important"
    assert "important assumed" in sources["criticality"]


def test_impact_orders_by_criticality_then_dependents() -> None:
    findings = [
        _finding("cache"),
        _finding("db", "critical"),
        _finding("web", deps=["db", "cache"]),
        _finding("api", deps=["cache"]),
        _finding("lb", deps=["web"]),
    ]
    order = [(i.name, i.dependents) for i in rank(findings)]
    assert order == [
        ("db", ["lb", "web"]),
        ("cache", ["api", "lb", "web"]),
        ("web", ["lb"]),
        ("api", []),
        ("lb", []),
    ]
    assert rank(findings)[0].line() == "1. db (critical): 2 depend on it: lb, web"


def test_worst_case_rto_is_what_plan_adds_up_rounded_up() -> None:
    finding = _finding("web")
    finding.health = {"check": "aws.ec2_status", "interval": "30s", "timeout": "10s", "failures": 2}
    finding.recovery = [
        {"strategy": "restart_service", "timeout": "5m"},
        {"strategy": "replace_instance", "timeout": "10m"},
    ]
    rto, why = worst_case_rto(finding)
    assert rto == timedelta(minutes=17)  # 1m10s + 15m, rounded up to the minute
    assert why.startswith("worst case: 1m10s to detect + 15m of step timeouts")


def test_drift_keys_of_catalog_components(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "components": {
                    "db": {
                        "type": "database",
                        "rto": "1h",
                        "rpo": "0s",
                        "provider": "process",
                        "spec": {"restart_command": "systemctl restart postgresql.service"},
                        "health": {
                            "check": "postgres",
                            "dsn": "postgresql://postgres@/postgres?host=/run/pg&port=5433",
                        },
                    },
                    "web": {
                        "type": "application_server",
                        "rto": "1m",
                        "rpo": "0s",
                        "provider": "process",
                        "spec": {"start_command": "python3 -m http.server 8080"},
                        "health": {"check": "http", "url": "http://127.0.0.1:8080/"},
                    },
                    "rds": {
                        "type": "database",
                        "rto": "1h",
                        "rpo": "15m",
                        "provider": "aws.rds",
                        "spec": {"db_instance_identifier": "orders"},
                        "health": {"check": "aws.rds_status"},
                    },
                },
            }
        )
    )
    catalog = load_catalog(path)
    keys = {n: resource_of(c) for n, c in catalog.components.items()}
    assert keys == {"db": "tcp:5433", "web": "tcp:8080", "rds": "orders"}


def test_proc_parsing(tmp_path: Path) -> None:
    (tmp_path / "postmaster.pid").write_text("4242\n/data\n1700000000\n5433\n/run/pg\n*\n")
    assert postmaster_pid(str(tmp_path)) == (5433, "/run/pg")
    assert postmaster_pid(str(tmp_path / "none")) == (None, None)
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text("global\n    stats socket /run/haproxy/admin.sock mode 600 level admin\n")
    assert haproxy_stats_socket(str(cfg)) == "/run/haproxy/admin.sock"
    assert option(["postgres", "-D", "/data", "-p", "5"], "-D") == "/data"
    assert option(["redis-server", "--dir=/var/redis"], "--dir") == "/var/redis"


async def test_drift_watch_notifies_drift_found_and_survives_a_failed_check(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "agent": {"drift_check": "1d"},
                "components": {
                    "web": {
                        "type": "application_server",
                        "rto": "1m",
                        "rpo": "0s",
                        "provider": "process",
                        "spec": {"start_command": "true"},
                        "health": {"check": "tcp", "port": 9},
                    }
                },
            }
        )
    )
    catalog = load_catalog(path)
    assert catalog.agent.drift_check == timedelta(days=1)
    answers: list[list[Drift] | Exception] = [
        [Drift("gone", "web", "tcp:9", "tcp:9 was not found")],
        ProviderError("ec2 DescribeInstances: cannot reach the AWS endpoint"),
        [],
    ]

    async def check(_: object) -> list[Drift]:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    stream = StringIO()
    notifier = RecordingNotifier()
    watch = DriftWatch(
        catalog,
        clock=FakeClock(),
        decisions=DecisionLog("json", stream),
        notifier=notifier,
        check=check,
    )
    assert len(await watch.check_once()) == 1
    assert await watch.check_once() == []
    assert await watch.check_once() == []
    [notice] = notifier.notices
    assert notice.event is Event.drift_found
    assert notice.payload["counts"] == {"gone": 1}
    decisions = [json.loads(line)["decision"] for line in stream.getvalue().splitlines()]
    assert decisions == ["drift_found", "drift_check_failed", "no_drift"]
