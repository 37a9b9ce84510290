"""The dashboard in a real headless Chromium (Debian's, through Playwright): live, and it approves."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.api_agent import Listening
from tests.e2e.harness import service_block, starts, wait_for, write_catalog
from tests.servers import free_port, need_binary

pytestmark = pytest.mark.e2e

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = os.environ.get("PARAMEDIC_SCREENSHOTS")
"""A folder to keep the screenshots in (the README's come from here: docs/screenshots)."""

# Records every state the overview's rows show, so a brief "failed" between two
# refreshes is seen even if it lasts less than a poll.
OBSERVE = """
window.seen = [];
const note = () => document.querySelectorAll('#components tr[data-name]').forEach(row => {
  const state = row.querySelector('.state');
  if (state) window.seen.push(row.dataset.name + ':' + state.textContent.trim().split(' ').pop());
});
note();
new MutationObserver(note).observe(document.querySelector('main'), {childList: true, subtree: true});
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "svc").mkdir()
    (tmp_path / "gated").mkdir()
    yield tmp_path
    for folder in ("svc", "gated"):
        for pid in starts(tmp_path / folder):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _shot(page: object, tmp: Path, name: str) -> Path:
    path = Path(SHOTS) / f"{name}.png" if SHOTS else tmp / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    return path


def test_overview_goes_failing_then_healthy_live_and_an_approval_is_clicked(
    workdir: Path,
) -> None:
    chromium = need_binary("chromium", "chromium")
    from playwright.sync_api import sync_playwright

    web_port, gated_port, api_port = free_port(), free_port(), free_port()
    gated = service_block(
        "ledger",
        gated_port,
        workdir / "gated",
        recovery="[{strategy: restart_service, timeout: 10s, approval: required, approval_timeout: 2m}]",
        rto="5m",
    )
    # web takes 2 s to listen after each start, so its failing states last long enough to
    # be drawn between two events whatever the machine's load (a refresh takes ~0.3 s)
    web = service_block("web", web_port, workdir / "svc", extra_env={"START_DELAY": "2"})
    write_catalog(workdir, web + gated)
    agent = Listening(workdir, api_port)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(agent.url + "/")
            page.wait_for_selector("#live.on", timeout=15_000)
            page.wait_for_function(
                "document.querySelectorAll('#components .s-healthy').length == 2", timeout=30_000
            )
            page.evaluate(OBSERVE)
            os.kill(starts(workdir / "svc")[-1], signal.SIGKILL)
            page.wait_for_function(
                "window.seen.some(s => /^web:(failed|recovering|suspect)$/.test(s))",
                timeout=30_000,
            )
            page.wait_for_function(
                "document.querySelector('#components tr[data-name=web] .s-healthy') !== null",
                timeout=30_000,
            )
            assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
            _shot(page, workdir, "overview")

            os.kill(starts(workdir / "gated")[-1], signal.SIGKILL)
            incident_id = wait_for(
                "ledger's incident waiting for approval",
                lambda: next(
                    (
                        i["id"]
                        for i in agent.get("/api/v1/incidents?component=ledger").json()["incidents"]
                        if i["state"] == "awaiting_approval"
                    ),
                    None,
                ),
            )
            page.goto(f"{agent.url}/incidents/{incident_id}")
            page.wait_for_selector("#approval button.approve")
            _shot(page, workdir, "incident")
            page.fill("#token", agent.token)
            page.click("#approval button.approve")
            page.wait_for_selector(".answer.ok", timeout=15_000)
            assert "approved by api@127.0.0.1" in page.inner_text("#answer")
            page.wait_for_selector("h1 .s-recovered", timeout=30_000)
            assert "restart_service" in page.inner_text("#steps")
            assert agent.token not in page.content()

            page.goto(f"{agent.url}/components/web")
            page.wait_for_selector(".timeline svg rect")
            assert "recovered" in page.inner_text("#incidents")
            _shot(page, workdir, "component")
            page.goto(f"{agent.url}/report")
            page.wait_for_load_state("load")
            assert "web" in page.inner_text("body")
            _shot(page, workdir, "report")
            browser.close()
    finally:
        assert agent.stop() == 0, agent.log()
    print(f"screenshots in {SHOTS or workdir}", file=sys.stderr)
