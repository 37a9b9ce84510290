"""``paramedic status --watch``: redraw the status table as the running agent decides.

It follows the agent's ``/api/v1/events`` (the agent writes its URL to
``RUN_DIR/api-url`` while it serves) and redraws after each decision; with no
API listening it polls the state store once a second. Either way the table is
read from the store, as ``paramedic status`` reads it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.live import Live

from paramedic.catalog.model import Catalog
from paramedic.store import Store
from paramedic.views.status import status_view

URL_FILE = "api-url"
POLL_S = 1.0


def url_file(catalog: Catalog) -> Path:
    """Where the serving agent writes its base URL."""
    return catalog.resolve_path(catalog.agent.run_dir) / URL_FILE


def _verify(url: str) -> bool:
    # A loopback agent may serve TLS with a self-signed certificate; anywhere else, verify it.
    from urllib.parse import urlsplit

    from paramedic.api.listen import Listen

    return not Listen(urlsplit(url).hostname or "", 0).loopback


def agent_url(catalog: Catalog) -> str | None:
    """The running agent's API URL, if it says it serves one and answers."""
    path = url_file(catalog)
    if not path.is_file():
        return None
    url = path.read_text().strip()
    try:
        httpx.get(url + "/healthz", timeout=2, verify=_verify(url))
    except httpx.HTTPError:
        return None
    return url


def _events(
    url: str, headers: dict[str, str], stop_at: float, opened: Callable[[], None]
) -> Iterator[dict[str, Any] | None]:
    """Decision lines from the stream; None at each keep-alive (so the caller can stop).

    ``opened`` is called once the agent has answered: from then on no decision is missed.
    """
    timeout = httpx.Timeout(10.0, read=5.0)
    query = "/api/v1/events?heartbeat=1"
    with httpx.stream(
        "GET", url + query, headers=headers, timeout=timeout, verify=_verify(url)
    ) as resp:
        resp.raise_for_status()
        opened()
        for line in resp.iter_lines():
            if time.monotonic() >= stop_at:
                return
            if line.startswith("data: "):
                yield json.loads(line[len("data: ") :])
            elif line.startswith(":"):
                yield None


def watch(
    catalog: Catalog,
    console: Console,
    note: Callable[[str], None],
    *,
    seconds: float | None = None,
) -> None:
    """Redraw until interrupted (or for ``seconds``); decisions are also noted one per line."""
    from paramedic.api.auth import client_token

    stop_at = time.monotonic() + seconds if seconds is not None else float("inf")
    store = Store.open(catalog.state_url(), create=False)

    def view() -> Any:
        return status_view(
            store.components(), store.incidents(open_only=True), now=datetime.now(UTC)
        )

    try:
        with Live(view(), console=console, auto_refresh=False) as live:
            url = agent_url(catalog)
            if url is not None:
                token = client_token(catalog)
                headers = {"Authorization": f"Bearer {token.secret}"} if token else {}
                events = _events(
                    url, headers, stop_at, lambda: note(f"following {url}/api/v1/events")
                )
                for record in events:
                    if record is not None:
                        note(
                            f"{record.get('at', '')} {record.get('component', '-')} "
                            f"{record.get('decision', '')} {record.get('reason', '')}"
                        )
                    live.update(view(), refresh=True)
            else:
                note("no API listening for this catalog: polling the state store every second")
                while time.monotonic() < stop_at:
                    time.sleep(POLL_S)
                    live.update(view(), refresh=True)
    finally:
        store.close()
