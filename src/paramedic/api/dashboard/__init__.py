"""The dashboard (``GET /``): server-rendered pages, live through the event stream."""

from paramedic.api.dashboard.pages import install

__all__ = ["install"]
