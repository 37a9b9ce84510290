"""README statements checked against what the code does (issue 13.14: each was false once)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from paramedic.drills import canary
from paramedic.providers.local import redis_faults, redis_snapshots

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _flat(text: str) -> str:
    return " ".join(text.split())


def _section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_redis_rdb_rpo_is_the_time_read_before_bgsave_as_the_code_takes_it() -> None:
    # the code: taken_at is the server's TIME in the pipeline that sends BGSAVE
    source = inspect.getsource(redis_snapshots._bgsave)
    assert source.index("pipe.time()") < source.index("pipe.bgsave(")
    [row] = [line for line in README.splitlines() if line.startswith("| `redis_rdb` |")]
    rpo = row.rstrip(" |").rsplit(" | ", 1)[1]
    assert "the server's `TIME`" in rpo and "just before `BGSAVE`" in rpo
    assert "snapshot's `LASTSAVE` time" not in rpo


def test_the_drills_section_says_which_fault_loses_data_and_what_it_keeps() -> None:
    # the code: delete-data moves the files aside, then FLUSHALL and SIGKILL (nothing saved)
    source = inspect.getsource(redis_faults._flush_and_move)
    assert source.index("_move(path, aside)") < source.index("flushall()")
    assert "SIGKILL" in source
    drills = _flat(_section("Drills"))
    assert "No fault deletes data:" not in drills
    assert re.search(
        r"Redis `delete-data` .*With AOF off, the writes made since the server's last save "
        r"lived only in memory and are gone; that loss, against the RPO, is what the drill "
        r"measures\. What the drill keeps aside is the moved `dump\.rdb`",
        drills,
    )


def test_the_canary_writes_through_its_own_connection_made_with_the_checks_dsn() -> None:
    # the code: each writer opens its own client from the DSN or URL it is given
    assert "psycopg.connect(self._dsn" in inspect.getsource(canary.PostgresCanary._connect)
    assert "Redis.from_url(url" in inspect.getsource(canary.RedisCanary.__init__)
    drills = _flat(_section("Drills"))
    assert "through the health check's own connection" not in drills
    assert "through a connection of its own, made with the health check's DSN or URL" in drills
