"""What a running agent imports: only the client libraries its catalog uses.

A real agent (SQLite state, DBOS launched, providers built and started) runs in a fresh
interpreter until every check is scheduled, then reports ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.servers import free_port

pytestmark = pytest.mark.integration

PROGRAM = textwrap.dedent(
    """
    import asyncio, json, sys
    from paramedic.agent import Agent
    from paramedic.catalog.loader import load_catalog

    async def main():
        agent = Agent(load_catalog(sys.argv[1]), decision_stream=sys.stderr)
        running = asyncio.create_task(agent.run())
        while agent.scheduler is None or len(agent.scheduler.names()) < int(sys.argv[2]):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # a first round of checks
        agent.stop()
        await running

    asyncio.run(main())
    print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
    """
)


def _modules(tmp_path: Path, components: str, n: int) -> set[str]:
    catalog = tmp_path / "paramedic.yaml"
    catalog.write_text(
        "version: 1\nlocation: test\nstate: sqlite:///paramedic.db\n"
        "agent: {run_dir: ./run, log_dir: ./log}\ncomponents:\n" + components
    )
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(catalog), str(n)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def _component(name: str, health: str) -> str:
    return (
        f"  {name}:\n    type: application_server\n    rto: 5m\n    rpo: 0s\n"
        '    provider: process\n    spec: {restart_command: ["true"]}\n'
        f"    health: {health}\n    recovery: [{{strategy: restart_service}}]\n"
    )


def test_a_local_catalog_loads_neither_boto3_nor_apprise_nor_httpx(tmp_path: Path) -> None:
    port = free_port()
    components = _component(
        "web", f'{{check: http, url: "http://127.0.0.1:{port}/", interval: 1s, timeout: 500ms}}'
    ) + _component("cache", f"{{check: tcp, port: {port}, interval: 1s, timeout: 500ms}}")
    modules = _modules(tmp_path, components, 2)
    assert "aiohttp" in modules  # the plain http:// probe
    for unused in ("boto3", "botocore", "apprise", "httpx", "redis"):
        assert unused not in modules, f"{unused} imported by an agent whose catalog needs none"


def test_an_https_check_brings_httpx_and_nothing_for_plain_http(tmp_path: Path) -> None:
    port = free_port()
    components = _component(
        "api", f'{{check: http, url: "https://127.0.0.1:{port}/", interval: 1s, timeout: 500ms}}'
    )
    modules = _modules(tmp_path, components, 1)
    assert "httpx" in modules and "aiohttp" not in modules and "boto3" not in modules
