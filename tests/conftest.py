"""Shared fixtures: real PostgreSQL and Redis servers, fake clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from paramedic.clock import FakeClock
from tests.servers import PostgresServer, RedisServer, make_postgres, make_redis, scratch_dir


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL cluster for the whole test session."""
    with scratch_dir("paramedic-pg-") as base:
        server = make_postgres(base)
        try:
            yield server
        finally:
            server.stop("immediate")


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real redis-server for one test."""
    with scratch_dir("paramedic-redis-") as base:
        server = make_redis(base)
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that moves only when the test says so."""
    return FakeClock()


from tests.aws_server import moto, moto_endpoint  # noqa: E402,F401  (fixtures shared by AWS tests)
