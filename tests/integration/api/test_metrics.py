"""/metrics: promtool-clean exposition, and the contrib dashboard and rules built on its names."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import httpx
import pytest

from paramedic.api.app import create_app
from paramedic.api.context import ApiContext

pytestmark = pytest.mark.integration

CONTRIB = Path(__file__).resolve().parents[3] / "contrib"
NAME = re.compile(r"\bparamedic_[a-z_]+\b")
PROMQL_WORDS = {"paramedic_component"}  # a label value in the rules' templates, not a metric


async def _exposition(ctx: ApiContext) -> str:
    assert ctx.metrics is not None
    ctx.metrics.observe_check("http", True, 0.01)
    ctx.metrics.observe_check("tcp", False, 0.5)
    ctx.metrics.observe_recovery("restart_service", 3.0)
    ctx.metrics.on_decision({"decision": "open_incident", "component": "web"})
    ctx.metrics.on_decision({"decision": "recovered", "component": "web"})
    ctx.metrics.notification("sent")
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def _promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], input=stdin, capture_output=True, text=True)


def _names(text: str) -> set[str]:
    names = set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


async def test_metrics_pass_promtool_and_carry_the_component_gauges(api_ctx: ApiContext) -> None:
    text = await _exposition(api_ctx)
    result = _promtool("check", "metrics", stdin=text)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "_created" not in text
    assert 'paramedic_component_state{component="web",state="healthy"} 1.0' in text
    assert 'paramedic_component_rto_objective_seconds{component="db"} 300.0' in text
    assert 'paramedic_checks_total{kind="tcp",outcome="failure"} 1.0' in text
    assert "paramedic_incidents_opened_total 1.0" in text
    assert 'paramedic_build_info{version="' in text
    # histograms are per kind and per strategy, never per component
    for line in text.splitlines():
        if line.startswith(("paramedic_check_duration", "paramedic_recovery_duration")):
            assert "component=" not in line


def _expressions(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [e for v in node.values() for e in _expressions(v)]
    if isinstance(node, list):
        return [e for v in node for e in _expressions(v)]
    return []


async def test_every_metric_the_grafana_dashboard_uses_exists(api_ctx: ApiContext) -> None:
    dashboard = json.loads((CONTRIB / "grafana" / "paramedic-dashboard.json").read_text())
    assert dashboard["id"] is None and dashboard["uid"] == "paramedic-overview"
    used = {n for e in _expressions(dashboard) for n in NAME.findall(e)}
    assert len(used) >= 15
    missing = used - _names(await _exposition(api_ctx))
    assert not missing, f"the dashboard uses metrics /metrics lacks: {sorted(missing)}"


async def test_the_alerting_rules_pass_promtool_and_use_existing_metrics(
    api_ctx: ApiContext,
) -> None:
    rules = CONTRIB / "prometheus" / "paramedic-rules.yml"
    result = _promtool("check", "rules", str(rules))
    assert result.returncode == 0, result.stdout + result.stderr
    exprs = re.findall(r"expr: >?\n?((?:.|\n)*?)\n\s+(?:for|labels):", rules.read_text())
    used = {n for e in exprs for n in NAME.findall(e)} - PROMQL_WORDS
    assert {"paramedic_component_down_seconds", "paramedic_scheduler_lag_seconds"} <= used
    missing = used - _names(await _exposition(api_ctx))
    assert not missing, f"the rules use metrics /metrics lacks: {sorted(missing)}"
