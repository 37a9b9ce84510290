"""The test fixtures start real servers: if these fail, every integration test would lie."""

from __future__ import annotations

import psycopg
import redis

from tests.servers import PostgresServer, RedisServer


def test_postgres_fixture_is_a_real_server(postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_server.dsn) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    assert row is not None and row[0] == str(postgres_server.data_dir)


def test_redis_fixture_is_a_real_server(redis_server: RedisServer) -> None:
    client = redis.Redis.from_url(redis_server.url)
    assert client.ping() is True
    client.close()
