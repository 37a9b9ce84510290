"""What a read costs the agent: trips to the thread pool per request, store reads per scrape.

Every trip from the event loop to FastAPI's thread pool and back waits for the
agent's loop, which is busy with checks: at 10,000 components a page of
components took seconds when each request made four trips (bench/README.md,
section (f)). The /metrics scrape must read the store in a fixed number of
queries whatever the number of components.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import httpx
import pytest
from sqlalchemy import event

from paramedic.api.app import create_app
from paramedic.api.context import ApiContext
from paramedic.api.metrics import StoreCollector
from paramedic.catalog.model import Catalog
from paramedic.register import register_components

pytestmark = pytest.mark.integration


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every callable run in the thread pool (the real pool: this only counts)."""
    seen: list[str] = []
    real = anyio.to_thread.run_sync

    async def counting(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        inner = getattr(func, "func", func)  # starlette hands over a functools.partial
        seen.append(str(getattr(inner, "__qualname__", inner)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return seen


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/components?limit=100",
        "/api/v1/components?limit=1&after=db",
        "/api/v1/incidents?limit=100",
        "/metrics",
    ],
)
async def test_a_read_makes_one_trip_to_the_thread_pool(
    api_ctx: ApiContext, hops: list[str], path: str
) -> None:
    transport = httpx.ASGITransport(app=create_app(api_ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    assert len(hops) == 1, hops  # the store read; not the context, the token check, validation


def _catalog_of(base: Catalog, n: int) -> Catalog:
    """``base`` with ``n`` copies of its ``web`` component."""
    data = base.model_dump(mode="json", exclude_unset=True)
    web = data["components"]["web"]
    data["components"] = {f"w{i:03d}": web for i in range(n)}
    return Catalog.model_validate(data)


def test_a_scrape_reads_the_store_in_queries_independent_of_the_components(
    api_ctx: ApiContext,
) -> None:
    counts = []
    for n in (3, 30):
        catalog = _catalog_of(api_ctx.core.catalog, n)
        register_components(api_ctx.store, catalog)
        for name in catalog.components:
            api_ctx.store.record_check(
                name, at=datetime.now(UTC), ok=True, state="healthy", detail="ok"
            )
        collector = StoreCollector(api_ctx.store, lambda c=catalog: c, api_ctx.core.snapshot)
        statements: list[str] = []

        def seen(*args: Any, statements: list[str] = statements) -> None:
            statements.append(args[2])  # (conn, cursor, statement, ...)

        event.listen(api_ctx.store.engine, "before_cursor_execute", seen)
        try:
            list(collector.collect())
            text = collector.component_text()  # the first scrape scores too
        finally:
            event.remove(api_ctx.store.engine, "before_cursor_execute", seen)
        counts.append(len(statements))
        for name in catalog.components:
            assert f'paramedic_component_recoverability_score{{component="{name}"}}' in text
    assert counts[0] == counts[1], counts
