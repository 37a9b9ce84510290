"""The README's "A first recovery in five minutes", run word for word from a fresh clone.

The commands come out of the README's own code block, so the test fails when the README drifts
from what paramedic does. What differs from a newcomer's run, and why: the clone's `.venv` is a
link to the venv running this test (no reinstall; `make -o` keeps make from reinstalling), the
clone's `src` comes first on PYTHONPATH (the clone's code is what runs), and the demo's port
18080 is replaced by a free one (other tests run at the same time; no README command names it).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import wait_for
from tests.servers import free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## A first recovery in five minutes"

# What each README command must print (a regex on stdout) and exit with; a README command
# missing here fails the test, so a new line in the walkthrough needs its expectation.
EXPECTED: dict[str, tuple[int, str]] = {
    ". .venv/bin/activate": (0, r"^$"),
    "paramedic status": (0, r"demo-web\s+│\s+healthy\s+│.*│\s+\d+\s+│"),
    'kill -9 "$(paramedic status demo-web --pid)"': (0, r"^$"),
    "paramedic history": (
        0,
        r"inc-\d{8}T\d{6}-demo-web-\w{4} demo-web\s+recovered by restart_service",
    ),
    "paramedic pause demo-web --for 10m": (0, r"^demo-web: paused for 10m \(maintenance\)$"),
    "paramedic resume demo-web": (0, r"^demo-web: resumed$"),
    "paramedic recover demo-web --dry-run": (
        0,
        r"^1\. restart_service: [\s\S]*^2\. replace_instance: ",
    ),
    "paramedic report --html report.html": (0, r"^report written to report\.html: 1 component"),
}
STATE = "paramedic status --json"
RETRIED = {"paramedic history"}
"""Read-only commands run again (up to 15 s) until the recovery they show has happened."""


def readme_blocks() -> tuple[str, list[str], list[str]]:
    """(terminal 1's command, terminal 2's commands, terminal 1's sample decision lines)."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(SECTION) : text.index("\n## ", text.index(SECTION) + 1)]
    blocks = re.findall(r"```(\w*)\n(.*?)```", section, flags=re.S)
    shell = [body for lang, body in blocks if lang == "sh"]
    sample = next(body for lang, body in blocks if lang == "" and "agent_started" in body)

    def commands(body: str) -> list[str]:
        stripped = (re.sub(r"\s+#\s.*$", "", line).strip() for line in body.splitlines())
        return [line for line in stripped if line]

    [first] = commands(shell[0])
    return first, commands(shell[1]), sample.strip().splitlines()


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A fresh clone of this repository with the demo on a free port and the venv linked."""
    target = tmp_path / "paramedic"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(target)], check=True)
    demo = target / "examples" / "demo" / "paramedic.yaml"
    demo.write_text(demo.read_text().replace("18080", str(free_port())))
    (target / ".venv").symlink_to(Path(sys.prefix))
    return target


@contextlib.contextmanager
def terminal_one(clone: Path, command: str) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """``make run`` in the background, in its own process group (stopped like Ctrl-C)."""
    assert command == "make run"
    log = clone / "terminal-1.log"
    env = {**os.environ, "PYTHONPATH": str(clone / "src"), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        make = subprocess.Popen(
            ["make", "-o", ".venv/.installed", "run"],
            cwd=clone,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            yield make, log
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C sends
            try:
                make.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(make.pid, signal.SIGKILL)
                make.wait()


def shell(clone: Path, line: str) -> subprocess.CompletedProcess[str]:
    """One README line in bash, after the README's own activation line (as in one terminal)."""
    env = {**os.environ, "PYTHONPATH": str(clone / "src")}
    env.pop("PARAMEDIC_CATALOG", None)
    script = f". .venv/bin/activate\n{line}\n"
    return subprocess.run(
        ["bash", "-c", script], cwd=clone, capture_output=True, text=True, env=env, timeout=120
    )


def test_the_five_minute_walkthrough_runs_word_for_word(clone: Path) -> None:
    first, commands, sample = readme_blocks()
    assert set(commands) == set(EXPECTED), "a README command without an expectation, or gone"
    with terminal_one(clone, first) as (make, log):
        wait_for(
            "the demo healthy (terminal 1 running)",
            lambda: make.poll() is None and '"state": "healthy"' in shell(clone, STATE).stdout,
            timeout=90,
        )
        for line in commands:
            code, pattern = EXPECTED[line]
            deadline = time.monotonic() + (15 if line in RETRIED else 0)
            while True:
                result = shell(clone, line)
                matched = result.returncode == code and re.search(pattern, result.stdout, re.M)
                if matched or time.monotonic() >= deadline:
                    break
                time.sleep(0.5)
            assert result.returncode == code, f"{line}: {result.stderr}\n{log.read_text()}"
            assert re.search(pattern, result.stdout, re.M), f"{line}:\n{result.stdout}"
            assert "Traceback" not in result.stderr
        assert (clone / "report.html").read_text().startswith("<!doctype html>")
    # terminal 1 said what the README says it says: the same decisions, in the same order
    # (on a loaded machine the first check may fail while the service starts: then it is
    # `suspect` and `recovered_by_itself` instead of `became_healthy`, which is not required)
    decisions = [line.split()[2] for line in sample if line.split()[2] != "became_healthy"]
    seen = [line.split()[2] for line in log.read_text().splitlines() if re.match(r"\d{4}-", line)]
    assert [d for d in seen if d in decisions][: len(decisions)] == decisions, log.read_text()
    said = log.read_text()
    assert "watching 1 component from examples/demo/paramedic.yaml" in said
    assert "certain at once: its process pid" in said and "(SIGKILL)" in said
    assert "stopped cleanly" in said
