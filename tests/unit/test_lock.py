"""One agent per catalog and one drill per component: the pid-file locks and their refusals."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from paramedic.drills.runner import drill_lock
from paramedic.errors import Refused
from paramedic.lock import (
    AGENTS_DIR_ENV,
    agent_lock,
    agent_running,
    agents_here,
    named_agent_lock,
    running_agents,
)


def test_a_second_agent_is_refused_naming_the_first(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    assert not agent_running(run_dir)
    with agent_lock(run_dir) as path:
        assert path.read_text() == str(os.getpid())
        assert agent_running(run_dir)
        with pytest.raises(Refused) as exc, agent_lock(run_dir):
            pass
        assert str(exc.value) == (
            f"another paramedic agent (pid {os.getpid()}) is running for this catalog "
            f"({run_dir / 'agent.lock'}); stop it first"
        )
    assert not agent_running(run_dir)
    with agent_lock(run_dir):  # released: taken again
        pass


def test_a_second_drill_of_a_component_is_refused(tmp_path: Path) -> None:
    with drill_lock(tmp_path, "web"):
        with pytest.raises(Refused) as exc, drill_lock(tmp_path, "web"):
            pass
        assert str(exc.value) == (
            f"a drill of web is already running (pid {os.getpid()}); wait for it to finish"
        )
        with drill_lock(tmp_path, "db"):  # another component is free
            pass


def test_a_running_agent_is_noted_with_its_catalog_and_found_from_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(AGENTS_DIR_ENV, str(tmp_path / "agents"))
    project = tmp_path / "project"
    catalog = project / "examples" / "cat.yaml"
    catalog.parent.mkdir(parents=True)
    catalog.write_text("version: 1\n")
    run_dir = project / "examples" / "var" / "run"
    monkeypatch.chdir(tmp_path)  # started elsewhere: found because the catalog is inside project
    with agent_lock(run_dir, str(catalog)):
        [agent] = agents_here(project)
        assert (agent.pid, agent.catalog, agent.run_dir) == (os.getpid(), catalog, run_dir)
        assert agents_here(project / "examples") == [agent]
        assert agents_here(tmp_path) == [agent]  # started in tmp_path
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        assert agents_here(elsewhere) == []
        assert (run_dir / "agent.json").is_file()
    assert running_agents() == []
    assert not (run_dir / "agent.json").exists()
    assert list((tmp_path / "agents").iterdir()) == []


def test_a_note_left_by_a_killed_agent_is_ignored_and_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    agents = tmp_path / "agents"
    monkeypatch.setenv(AGENTS_DIR_ENV, str(agents))
    dead = subprocess.Popen(["true"])  # a pid that no longer runs
    dead.wait()
    agents.mkdir()
    note = agents / f"{dead.pid}.json"
    note.write_text(
        json.dumps(
            {"pid": dead.pid, "catalog": str(tmp_path / "c.yaml"), "run_dir": str(tmp_path)}
            | {"cwd": str(tmp_path)}
        )
    )
    (agents / "garbage.json").write_text("{not json")
    assert agents_here(tmp_path) == []
    assert not note.exists()  # its pid is gone: the note is stale


def test_a_live_pid_whose_lock_is_free_is_not_an_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(AGENTS_DIR_ENV, str(tmp_path / "agents"))
    catalog = tmp_path / "c.yaml"
    catalog.write_text("version: 1\n")
    with agent_lock(tmp_path / "run", str(catalog)):
        pass
    # the same pid (ours) noted again by hand, but nobody holds the lock: not running
    (tmp_path / "agents").mkdir(exist_ok=True)
    (tmp_path / "agents" / "1.json").write_text(
        json.dumps(
            {"pid": os.getpid(), "catalog": str(catalog), "run_dir": str(tmp_path / "run")}
            | {"cwd": str(tmp_path)}
        )
    )
    assert agents_here(tmp_path) == []


def test_named_agents_share_a_run_dir_but_each_name_runs_once(tmp_path: Path) -> None:
    with named_agent_lock(tmp_path, "a1"), named_agent_lock(tmp_path, "a2"):
        assert agent_running(tmp_path)
        with (
            pytest.raises(Refused, match="agent a1 already runs"),
            named_agent_lock(tmp_path, "a1"),
        ):
            pass
        with pytest.raises(Refused, match="another paramedic agent"), agent_lock(tmp_path):
            pass
    unnamed = pytest.raises(Refused, match="an unnamed paramedic agent runs")
    with agent_lock(tmp_path), unnamed, named_agent_lock(tmp_path, "a1"):
        pass
