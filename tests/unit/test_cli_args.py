"""Every verb finds its catalog the same way: given, $PARAMEDIC_CATALOG, ./paramedic.yaml, then the
one agent running from this folder (a real lock held in this process stands for that agent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paramedic.cli.args import resolve_catalog
from paramedic.errors import CatalogError
from paramedic.lock import AGENTS_DIR_ENV, agent_lock


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(AGENTS_DIR_ENV, str(tmp_path / "agents"))
    monkeypatch.delenv("PARAMEDIC_CATALOG", raising=False)
    root = tmp_path / "project"
    (root / "demo").mkdir(parents=True)
    (root / "demo" / "paramedic.yaml").write_text("version: 1\n")
    (root / "other.yaml").write_text("version: 1\n")
    monkeypatch.chdir(root)
    return root


def test_the_order_given_then_environment_then_here_then_the_running_agent(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with agent_lock(project / "demo" / "run", str(project / "demo" / "paramedic.yaml")):
        assert resolve_catalog(None) == str(project / "demo" / "paramedic.yaml")
        (project / "paramedic.yaml").write_text("version: 1\n")
        assert resolve_catalog(None) == "paramedic.yaml"
        monkeypatch.setenv("PARAMEDIC_CATALOG", "from-env.yaml")
        assert resolve_catalog(None) == "from-env.yaml"
        assert resolve_catalog("given.yaml") == "given.yaml"


def test_no_catalog_and_no_agent_names_the_fix(project: Path) -> None:
    with pytest.raises(CatalogError) as caught:
        resolve_catalog(None)
    assert str(caught.value) == (
        "paramedic.yaml: no such file here, and no agent runs from this folder; "
        "pass it with -c PATH or set PARAMEDIC_CATALOG"
    )


def test_two_agents_from_this_folder_are_named_and_neither_is_guessed(project: Path) -> None:
    first, second = project / "demo" / "paramedic.yaml", project / "other.yaml"
    with (
        agent_lock(project / "demo" / "run", str(first)),
        agent_lock(project / "run", str(second)),
        pytest.raises(CatalogError) as caught,
    ):
        resolve_catalog(None)
    message = str(caught.value)
    assert message.startswith("paramedic.yaml: no such file, and 2 agents run from this folder: ")
    assert str(first) in message and str(second) in message
    assert message.endswith("; pass it with -c PATH or set PARAMEDIC_CATALOG")
