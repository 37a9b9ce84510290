"""The example catalogs: they load, the demo runs as it is, and site-a's planted gaps are found."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from paramedic.catalog.loader import load_catalog
from paramedic.catalog.model import HttpCheck
from paramedic.plan import Severity, analyze

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DEMO = EXAMPLES / "demo" / "paramedic.yaml"
SITE_A = EXAMPLES / "site-a.yaml"
PLANTED = re.compile(r"#\s*planted gap:\s*([a-z_]+)")
REQUIRED_KINDS = {
    "rto_unreachable",
    "rpo_no_backup",
    "rpo_schedule",
    "criticality_inversion",
    "strategy_unsupported",
    "no_recovery",
    "step_timeout_short",
}


def planted_gaps(path: Path) -> set[tuple[str, str]]:
    """``(component, kind)`` of each ``# planted gap: KIND`` comment, by its enclosing component."""
    planted: set[tuple[str, str]] = set()
    component: str | None = None
    indent: int | None = None  # of the component keys, learnt from the first one
    in_components = False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        body = line.split("#", 1)[0].rstrip()
        if body and not line[0].isspace():
            in_components = body == "components:"
            component = None
        elif body and in_components:
            depth = len(line) - len(line.lstrip())
            indent = depth if indent is None else indent
            key = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9_.-]*):", body)
            if depth == indent and key:
                component = key.group(1)
        if match := PLANTED.search(line):
            assert component is not None, f"{path.name}:{number}: planted gap outside a component"
            planted.add((component, match.group(1)))
    return planted


def test_both_examples_load() -> None:
    assert list(load_catalog(DEMO).components) == ["demo-web"]
    assert list(load_catalog(SITE_A).components) == [
        "orders-db",
        "session-cache",
        "orders-api",
        "edge-lb",
    ]


def test_demo_plan_has_no_gap() -> None:
    plan = analyze(load_catalog(DEMO))
    assert [g.reason for g in plan.gaps] == []


def test_demo_runs_from_its_own_folder() -> None:
    catalog = load_catalog(DEMO)
    web = catalog.components["demo-web"]
    cwd = catalog.resolve_path(web.spec["cwd"])
    assert cwd == DEMO.parent
    assert (cwd / web.spec["command"][-1]).is_file()
    port = web.spec["port"]
    assert web.spec["env"]["PORT"] == str(port)
    assert isinstance(web.health, HttpCheck)
    assert web.health.url == f"http://127.0.0.1:{port}/health"
    assert catalog.state_url() == f"sqlite:///{DEMO.parent / 'var' / 'demo.db'}"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def demo_service() -> Iterator[int]:
    """The demo's service.py, started for real on a free port; yields the port once it listens."""
    port = free_port()
    service = subprocess.Popen(
        [sys.executable, "service.py"],
        cwd=DEMO.parent,
        env={**os.environ, "PORT": str(port)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert service.stderr is not None
        started = service.stderr.readline()  # written once the socket listens
        assert started == f"demo service {service.pid} listening on http://127.0.0.1:{port}/\n"
        yield port
    finally:
        service.terminate()
        service.wait(timeout=5)
        if service.stderr is not None:
            service.stderr.close()


@pytest.mark.parametrize("path", ["/", "/health"])
def test_demo_service_answers_ok(demo_service: int, path: str) -> None:
    url = f"http://127.0.0.1:{demo_service}{path}"
    with urllib.request.urlopen(url, timeout=5) as response:
        assert (response.status, response.read()) == (200, b"ok\n")


def test_site_a_plants_every_required_gap_kind() -> None:
    kinds = {kind for _, kind in planted_gaps(SITE_A)}
    assert REQUIRED_KINDS - kinds == set()


def test_every_planted_gap_is_found() -> None:
    plan = analyze(load_catalog(SITE_A))
    found = {(g.component, g.kind) for g in plan.gaps}
    assert planted_gaps(SITE_A) - found == set()


def test_site_a_has_no_unplanted_high_or_medium_gap() -> None:
    plan = analyze(load_catalog(SITE_A))
    serious = {(g.component, g.kind) for g in plan.gaps if g.severity is not Severity.low}
    assert serious - planted_gaps(SITE_A) == set()


def test_planted_gap_parser_uses_the_enclosing_component(tmp_path: Path) -> None:
    catalog = tmp_path / "c.yaml"
    catalog.write_text(
        "version: 1\n"
        "components:\n"
        "  a:\n"
        "    rpo: 1m # planted gap: rpo_no_backup\n"
        "    recovery:\n"
        "      # planted gap: no_recovery\n"
        "      - strategy: run\n"
        "  b:\n"
        "    spec: {x: 1}\n"
        "    # planted gap: rto_unreachable\n"
    )
    assert planted_gaps(catalog) == {
        ("a", "rpo_no_backup"),
        ("a", "no_recovery"),
        ("b", "rto_unreachable"),
    }


def test_planted_gap_outside_a_component_is_refused(tmp_path: Path) -> None:
    catalog = tmp_path / "c.yaml"
    catalog.write_text("version: 1\ncomponents:\n  a: {}\nnotify: [] # planted gap: no_recovery\n")
    with pytest.raises(AssertionError, match=r"c\.yaml:4: planted gap outside a component"):
        planted_gaps(catalog)


def test_the_aws_example_loads_and_plans_without_a_gap() -> None:
    catalog = load_catalog(EXAMPLES / "aws" / "paramedic.yaml")
    assert {n: c.provider for n, c in catalog.components.items()} == {
        "web": "aws.ec2",
        "orders-db": "aws.rds",
    }
    assert catalog.agent.events_queue == "paramedic-events"
    assert analyze(catalog).gaps == []
