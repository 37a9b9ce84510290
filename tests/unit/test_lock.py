"""One agent per catalog and one drill per component: the pid-file locks and their refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from paramedic.drills.runner import drill_lock
from paramedic.errors import Refused
from paramedic.lock import agent_lock, agent_running, named_agent_lock


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
