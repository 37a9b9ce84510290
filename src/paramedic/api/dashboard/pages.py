"""The dashboard's pages (filled in below)."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Mount the dashboard's pages and static files on ``app``."""
