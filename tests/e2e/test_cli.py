"""The command line as a user meets it: exit codes, one-line errors, never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from paramedic.store import Store
from tests.e2e.harness import paramedic, start_agent, wait_for
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
SITE_A = str(ROOT / "examples" / "site-a.yaml")
DEMO = str(ROOT / "examples" / "demo" / "paramedic.yaml")


def _one_line_error(result: object) -> str:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.returncode == 2, stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return str(lines[0])


def test_validate_accepts_the_examples(tmp_path: Path) -> None:
    result = paramedic("validate", DEMO, cwd=tmp_path)
    assert result.stdout.strip().endswith("paramedic.yaml: valid (1 component)")


def test_validate_prints_every_problem_with_file_and_line(tmp_path: Path) -> None:
    catalog = tmp_path / "broken.yaml"
    catalog.write_text(
        "version: 1\n"
        "components:\n"
        "  web:\n"
        "    type: application_server\n"
        "    criticality: urgent\n"
        "    rto: 30\n"
        "    rpo: 0s\n"
        "    provider: process\n"
        "    spec: {command: [python3, app.py]}\n"
        "    health: {check: http, url: 'http://127.0.0.1:8080/', intervall: 2s}\n"
        "    depends_on: [dbb]\n"
    )
    result = paramedic("validate", str(catalog), cwd=tmp_path, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4, result.stderr
    assert lines[0].startswith(f"{catalog}:5: components.web.criticality: must be one of")
    assert lines[1].startswith(f"{catalog}:6: components.web.rto: must be a duration like 2s")
    assert lines[2].startswith(f"{catalog}:10: components.web.health.intervall: unknown key")
    assert "did you mean 'interval'?" in lines[2]
    assert lines[3].startswith(f"{catalog}:11: components.web.depends_on")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["nosuch"], "paramedic: No such command 'nosuch'. (see paramedic --help)"),
        (["plan", "--bogus"], "paramedic: No such option: --bogus (see paramedic --help)"),
        (
            ["validate", "missing.yaml"],
            "missing.yaml: no such file; create it, or pass another path with -c PATH",
        ),
        (
            ["drill", "demo-web", "--catalog", DEMO],
            "paramedic: demo-web: give the fault to inject with --fault "
            "(one of kill, hang, exit, port-squat)",
        ),
        (
            ["backup", "orders-db", "--catalog", DEMO],
            "paramedic: no component 'orders-db' in",
        ),
        (
            ["backup", "demo-web", "--catalog", DEMO],
            "paramedic: component 'demo-web' has no backup configured; add components.demo-web.backup",
        ),
        (
            ["restore", "demo-web", "--to", "yesterday", "--catalog", DEMO],
            "paramedic: --to 'yesterday': must be latest, before_failure or a timestamp",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], expected: str) -> None:
    line = _one_line_error(paramedic(*args, cwd=tmp_path, check=False))
    assert line.startswith(expected)


def test_pause_with_a_bad_duration_names_the_option(tmp_path: Path) -> None:
    result = paramedic(
        "pause", "demo-web", "--for", "2 hours", "--catalog", DEMO, cwd=tmp_path, check=False
    )
    assert _one_line_error(result).startswith(
        "paramedic: --for '2 hours': must be a duration like 2s"
    )


def test_recover_of_an_unknown_component_names_the_known_ones(tmp_path: Path) -> None:
    result = paramedic("recover", "nope", "--catalog", DEMO, cwd=tmp_path, check=False)
    assert "no component 'nope'" in _one_line_error(result)
    assert "known: demo-web" in result.stderr


def test_recover_dry_run_shows_the_ladder_and_does_nothing(tmp_path: Path) -> None:
    result = paramedic(
        "recover", "demo-web", "--dry-run", "--json", "--catalog", DEMO, cwd=tmp_path
    )
    steps = json.loads(result.stdout)["steps"]
    assert [s["strategy"] for s in steps] == ["restart_service", "replace_instance"]
    assert all(s["does"] for s in steps)


def test_status_and_history_json_on_an_empty_store(tmp_path: Path) -> None:
    state = f"sqlite:///{tmp_path / 'state.db'}"
    Store.open(state).close()  # what the agent does at its start
    status = json.loads(paramedic("status", "--json", "--state", state, cwd=tmp_path).stdout)
    assert status == {"components": [], "open_incidents": []}
    history = json.loads(paramedic("history", "--json", "--state", state, cwd=tmp_path).stdout)
    assert history == {"incidents": []}
    verdict = json.loads(
        paramedic("audit", "verify", "--json", "--state", state, cwd=tmp_path).stdout
    )
    assert verdict["ok"] is True


def test_plan_json_of_site_a_lists_the_planted_gaps(tmp_path: Path) -> None:
    plan = json.loads(paramedic("plan", SITE_A, "--json", cwd=tmp_path).stdout)
    kinds = {gap["kind"] for gap in plan["gaps"]}
    assert {
        "rto_unreachable",
        "rpo_no_backup",
        "rpo_schedule",
        "criticality_inversion",
        "strategy_unsupported",
        "no_recovery",
    } <= kinds
    assert {row["name"] for row in plan["inventory"]} == {
        "orders-db",
        "session-cache",
        "orders-api",
        "edge-lb",
    }


def test_schema_is_json_schema(tmp_path: Path) -> None:
    schema = json.loads(paramedic("schema", cwd=tmp_path).stdout)
    assert schema["title"] == "paramedic catalog"
    assert "components" in schema["properties"]


def test_unreachable_state_store_is_one_line(tmp_path: Path) -> None:
    result = paramedic(
        "status", "--state", "postgresql://mon:s3cret@127.0.0.1:1/x", cwd=tmp_path, check=False
    )
    line = _one_line_error(result)
    assert "cannot reach the state store" in line
    assert "s3cret" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["status", "--json"],
        ["history"],
        ["audit", "verify"],
        ["pause", "demo-web"],
        ["approve", "inc-x"],
        ["report", "--json", "-c", DEMO],
    ],
)
def test_read_only_verbs_never_create_a_missing_store(tmp_path: Path, args: list[str]) -> None:
    state = f"sqlite:///{tmp_path}/typo/x.db"
    result = paramedic(*args, "--state", state, cwd=tmp_path, check=False)
    assert _one_line_error(result) == (
        f"paramedic: the state store {state} does not exist; start the agent first "
        "(paramedic run CATALOG) or pass --state URL or -c CATALOG"
    )
    assert not (tmp_path / "typo").exists()


def test_backups_of_a_catalog_whose_agent_never_ran_creates_nothing(tmp_path: Path) -> None:
    catalog = tmp_path / "paramedic.yaml"
    catalog.write_text(Path(DEMO).read_text().replace("sqlite:///var/demo.db", "sqlite:///s/x.db"))
    assert "does not exist" in _one_line_error(paramedic("backups", cwd=tmp_path, check=False))
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["pause", "demo-web", "--for", "99999999999999999w", "-c", DEMO],
        ["drill", "demo-web", "--fault", "kill", "--warmup", "99999999999999999w", "-c", DEMO],
        ["report", "--stale-after", "99999999999999999999w", "-c", DEMO],
    ],
)
def test_an_oversized_duration_argument_is_one_line(tmp_path: Path, args: list[str]) -> None:
    line = _one_line_error(paramedic(*args, cwd=tmp_path, check=False))
    assert line.startswith("paramedic: --")
    assert line.endswith("w': is too large: a duration is at most 100 years (36500d)"), line


def test_an_oversized_duration_in_the_catalog_is_located(tmp_path: Path) -> None:
    catalog = tmp_path / "paramedic.yaml"
    catalog.write_text(Path(DEMO).read_text().replace("rto: 10s", "rto: 99999999999999999999w"))
    line = _one_line_error(paramedic("validate", cwd=tmp_path, check=False))
    assert line.startswith(f"{catalog.name}:") and line.endswith(
        "components.demo-web.rto: is too large: a duration is at most 100 years (36500d)"
    )


def test_run_help_says_what_listen_serves(tmp_path: Path) -> None:
    help_text = " ".join(paramedic("run", "--help", cwd=tmp_path).stdout.split())  # unwrapped
    assert "serve the HTTP API, dashboard and /metrics on HOST:PORT" in help_text
    assert "--insecure-listen" in help_text and "not built" not in help_text


def test_every_verb_finds_the_catalog_the_same_way(tmp_path: Path) -> None:
    """-c on every verb, $PARAMEDIC_CATALOG, ./paramedic.yaml, then the agent running from here."""
    project = tmp_path / "project"
    (project / "ops").mkdir(parents=True)
    catalog = project / "ops" / "cat.yaml"
    demo = Path(DEMO).read_text().replace("18080", str(free_port()))
    catalog.write_text(demo.replace('cwd: "."', f'cwd: "{ROOT / "examples" / "demo"}"'))
    for verb in (["validate"], ["plan", "--json"]):
        assert paramedic(*verb, "-c", str(catalog), cwd=tmp_path).returncode == 0
    missing = paramedic("status", cwd=project, check=False)
    assert _one_line_error(missing) == (
        "paramedic.yaml: no such file here, and no agent runs from this folder; "
        "pass it with -c PATH or set PARAMEDIC_CATALOG"
    )
    agent = start_agent(project, "ops/cat.yaml")
    try:
        wait_for("the agent's note", lambda: "agent_started" in agent.log(), timeout=60)
        status = json.loads(paramedic("status", "--json", cwd=project).stdout)
        [row] = status["components"]
        assert row["name"] == "demo-web" and row["failed_checks_total"] == row["failures_total"]
        pid = wait_for(
            "the owned pid",
            lambda: paramedic("status", "demo-web", "--pid", cwd=project, check=False).stdout,
        )
        rows = json.loads(paramedic("status", "--json", cwd=project).stdout)["components"]
        assert int(pid) == rows[0]["pid"]
        os.kill(int(pid), 0)  # a live process: the one the agent owns
        assert paramedic("pause", "demo-web", "--for", "10m", cwd=project).stdout.startswith(
            "demo-web: paused for 10m"
        )
        assert paramedic("resume", "demo-web", cwd=project).returncode == 0
        dry = paramedic("recover", "demo-web", "--dry-run", cwd=project).stdout
        assert dry.startswith("1. restart_service: ")
        assert paramedic("history", cwd=project).returncode == 0
        assert paramedic("report", "--json", cwd=project).returncode == 0
        assert paramedic("audit", "verify", cwd=project).returncode == 0
        assert paramedic("status", "--json", cwd=project / "ops").returncode == 0  # inside it
        (tmp_path / "elsewhere").mkdir()
        assert paramedic("status", cwd=tmp_path / "elsewhere", check=False).returncode == 2
    finally:
        agent.stop()
    gone = paramedic("status", cwd=project, check=False)
    assert "no agent runs from this folder" in _one_line_error(gone)
