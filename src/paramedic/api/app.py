"""``create_app``: the FastAPI application of a running agent (or of a test's context)."""

from __future__ import annotations

from fastapi import FastAPI

from paramedic import __version__
from paramedic.api import errors, routes_events, routes_read, routes_write
from paramedic.api.context import ApiContext


def create_app(ctx: ApiContext) -> FastAPI:
    """The API, dashboard, /metrics and the Alertmanager receiver over one context."""
    app = FastAPI(
        title="paramedic",
        version=__version__,
        summary="The running agent: components, incidents, recoveries, evidence.",
        openapi_url="/openapi.json",
        docs_url=None,  # Swagger UI loads from a CDN: nothing is fetched at run time
        redoc_url=None,
    )
    app.state.ctx = ctx
    from paramedic.api.alerts import AlertIntake

    app.state.alerts = AlertIntake()
    errors.install(app)
    app.include_router(routes_read.health)
    app.include_router(routes_read.router)
    app.include_router(routes_events.router)
    app.include_router(routes_write.router)
    from paramedic.api import alerts, dashboard, metrics

    app.include_router(alerts.router)
    app.include_router(metrics.router)
    dashboard.install(app)
    return app
