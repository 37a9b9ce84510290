"""Canaries: the RPO of a drill measured from data, not estimated.

Before the fault, a canary writer writes numbered, timestamped records into the component
at a fixed rate, through the same connection details as its health check, and keeps its
own log of every write that succeeded (writes failing during the outage are expected: it
keeps going and logs only successes). After the recovery the records are read back:

- measured RPO = fault time − the newest canary written before the fault that survived;
- a canary written before the fault, missing below that newest survivor, is a gap: data
  corruption (what survived is not a clean prefix of what was written);
- a record found but not in the log (another drill's, a write whose reply was lost) is
  counted as ``unknown`` and ignored.

Then the canaries, and only they, are removed.

| provider | where | removed by |
|---|---|---|
| postgres | table ``paramedic_canary(seq bigint, at timestamptz)`` in the check's DSN database | ``DROP TABLE`` |
| redis | sorted set ``paramedic:canary`` at the check's URL (member ``SEQ:ISO-TIME``) | ``DEL`` |
| files | files ``.paramedic-canary-SEQ`` in ``spec.path`` holding the ISO time | unlinking them |

Components with no data (process, haproxy) or an RPO of 0 run no canary.
"""

from __future__ import annotations

import contextlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from paramedic.catalog.model import Catalog, PostgresCheck, RedisCheck
from paramedic.errors import ProviderError
from paramedic.redact import redact

TABLE = "paramedic_canary"
REDIS_KEY = "paramedic:canary"
FILE_PREFIX = ".paramedic-canary-"
DATA_PROVIDERS = ("postgres", "redis", "files")
STOP_WAIT_S = 5.0
"""How long ``stop`` waits for a write in flight (a hung server) before leaving the thread."""


@dataclass(frozen=True, order=True)
class CanaryRecord:
    """One canary: its sequence number and the time it was written (the writer's clock, UTC)."""

    seq: int
    at: datetime


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _parse(seq: Any, at: Any) -> CanaryRecord | None:
    try:
        moment = at if isinstance(at, datetime) else datetime.fromisoformat(str(at).strip())
        return CanaryRecord(int(seq), moment.astimezone(UTC))
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------- the pure measurement


@dataclass(frozen=True)
class CanaryMeasure:
    """What the canaries say about the data a drill lost."""

    written: int
    written_before_fault: int
    survived_before_fault: int
    survived: int
    """Logged canaries found again (before and after the fault)."""
    newest_surviving: CanaryRecord | None
    """The newest canary written before the fault that survived."""
    rpo_s: float | None
    """Fault time − ``newest_surviving.at``; None when no canary of before the fault survived."""
    gaps: list[tuple[int, int]]
    """Ranges ``(first, last)`` of canaries written before the fault and missing below the
    newest survivor: data corruption."""
    unknown: int

    @property
    def corrupted(self) -> bool:
        """True when what survived is not a clean prefix of what was written."""
        return bool(self.gaps)

    def gaps_text(self) -> str:
        """``12-14, 20``: the missing sequence numbers, as ranges."""
        return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in self.gaps)


def _ranges(numbers: Sequence[int]) -> list[tuple[int, int]]:
    found: list[tuple[int, int]] = []
    for n in numbers:
        if found and found[-1][1] == n - 1:
            found[-1] = (found[-1][0], n)
        else:
            found.append((n, n))
    return found


def measure_canaries(
    written: Sequence[CanaryRecord], found: Iterable[CanaryRecord], fault_at: datetime
) -> CanaryMeasure:
    """Compare the writer's log with what was read back after the recovery (pure)."""
    logged = {r.seq: r for r in written}
    survived = {r.seq for r in found if logged.get(r.seq) == r}
    unknown = sum(1 for r in found if logged.get(r.seq) != r)
    before = sorted(r.seq for r in written if r.at <= fault_at)
    kept = [seq for seq in before if seq in survived]
    newest = logged[kept[-1]] if kept else None
    gaps = _ranges([s for s in before if newest and s < newest.seq and s not in survived])
    rpo = None if newest is None else max(0.0, (fault_at - newest.at).total_seconds())
    return CanaryMeasure(
        written=len(written),
        written_before_fault=len(before),
        survived_before_fault=len(kept),
        survived=len(survived),
        newest_surviving=newest,
        rpo_s=rpo,
        gaps=gaps,
        unknown=unknown,
    )


# ---------------------------------------------------------------- writers


class CanaryWriter(ABC):
    """Writes canaries from a thread at a fixed rate until stopped; keeps its log of successes.

    Subclasses give the primitives: ``_prepare`` (make room; raises ProviderError when the
    component cannot take canaries), ``_write``, ``_read``, ``_remove`` and ``_close``.
    """

    kind = "?"

    def __init__(self, where: str, *, every: float = 0.1) -> None:
        self.where = redact(where)
        """Where the canaries go, safe to show."""
        self.every = every
        self.written: list[CanaryRecord] = []
        self.failures = 0
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._seq = 0

    def start(self) -> None:
        """Make room for the canaries, then write one every ``every`` seconds in a thread."""
        self._prepare()
        self._thread = threading.Thread(target=self._loop, name=f"canary-{self.kind}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop writing (a write blocked on a hung server is left to its timeout)."""
        self._halt.set()
        if self._thread is not None:
            self._thread.join(STOP_WAIT_S)
        with contextlib.suppress(Exception):
            self._close()

    def read_back(self) -> list[CanaryRecord]:
        """The canaries present now; ProviderError when the component cannot be read."""
        try:
            return self._read()
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(
                f"cannot read the canaries back from {self.where}: {redact(str(exc))}"
            ) from exc

    def remove(self) -> str:
        """Remove the canaries (only them); says what was done or what is left behind."""
        try:
            return self._remove()
        except Exception as exc:
            return (
                f"canaries left in {self.where}: {redact(str(exc).strip().splitlines()[0])}; "
                f"{self.leftover_hint()}"
            )

    def leftover_hint(self) -> str:
        """How to remove canaries by hand when the drill could not."""
        return "remove them by hand"

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._halt.is_set():
            self._seq += 1
            record = CanaryRecord(self._seq, datetime.now(UTC))
            try:
                self._write(record)
                self.written.append(record)
            except Exception:  # the outage: expected, only successes are logged
                self.failures += 1
            next_at += self.every
            self._halt.wait(max(0.0, next_at - time.monotonic()))

    @abstractmethod
    def _prepare(self) -> None: ...

    @abstractmethod
    def _write(self, record: CanaryRecord) -> None: ...

    @abstractmethod
    def _read(self) -> list[CanaryRecord]: ...

    @abstractmethod
    def _remove(self) -> str: ...

    def _close(self) -> None:  # noqa: B027  a hook: writers without a connection keep it empty
        """Release the writer's connection."""


class PostgresCanary(CanaryWriter):
    """Rows of ``paramedic_canary`` in the database of the check's DSN."""

    kind = "postgres"

    def __init__(self, dsn: str, *, every: float = 0.1) -> None:
        super().__init__(f"table {TABLE} at {dsn}", every=every)
        self._dsn = dsn
        self._conn: Any = None

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self._dsn, autocommit=True, connect_timeout=1)

    def _prepare(self) -> None:
        import psycopg

        try:
            with self._connect() as conn:
                conn.execute(f"DROP TABLE IF EXISTS {TABLE}")  # a crashed drill's, never data
                conn.execute(f"CREATE TABLE {TABLE} (seq bigint PRIMARY KEY, at timestamptz)")
        except psycopg.Error as exc:
            raise ProviderError(
                f"cannot create the canary {self.where}: {redact(str(exc).strip())}"
            ) from exc

    def _write(self, record: CanaryRecord) -> None:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        try:
            self._conn.execute(
                f"INSERT INTO {TABLE} (seq, at) VALUES (%s, %s)", (record.seq, record.at)
            )
        except Exception:
            self._close()
            raise

    def _read(self) -> list[CanaryRecord]:
        with self._connect() as conn:
            rows = conn.execute(f"SELECT seq, at FROM {TABLE} ORDER BY seq").fetchall()
        return [r for r in (_parse(seq, at) for seq, at in rows) if r is not None]

    def _remove(self) -> str:
        with self._connect() as conn:
            conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        return f"canary table {TABLE} dropped"

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def leftover_hint(self) -> str:
        """The SQL that removes the canaries."""
        return f"run DROP TABLE {TABLE} there"


class RedisCanary(CanaryWriter):
    """Members ``SEQ:ISO-TIME`` of the sorted set ``paramedic:canary`` at the check's URL."""

    kind = "redis"

    def __init__(self, url: str, *, every: float = 0.1) -> None:
        super().__init__(f"key {REDIS_KEY} at {url}", every=every)
        import redis

        self._client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)

    def _prepare(self) -> None:
        import redis

        try:
            self._client.delete(REDIS_KEY)  # a crashed drill's canaries, never data
        except redis.RedisError as exc:
            raise ProviderError(f"cannot write the canary {self.where}: {exc}") from exc

    def _write(self, record: CanaryRecord) -> None:
        self._client.zadd(REDIS_KEY, {f"{record.seq}:{_iso(record.at)}": record.seq})

    def _read(self) -> list[CanaryRecord]:
        members = self._client.zrange(REDIS_KEY, 0, -1)
        found = []
        for member in members:
            text = member.decode(errors="replace") if isinstance(member, bytes) else str(member)
            seq, _, at = text.partition(":")
            record = _parse(seq, at)
            if record is not None:
                found.append(record)
        return found

    def _remove(self) -> str:
        self._client.delete(REDIS_KEY)
        return f"canary key {REDIS_KEY} deleted"

    def _close(self) -> None:
        self._client.close()

    def leftover_hint(self) -> str:
        """The command that removes the canaries."""
        return f"run DEL {REDIS_KEY} there"


class FilesCanary(CanaryWriter):
    """Files ``.paramedic-canary-SEQ`` in the component's folder, each holding its ISO time."""

    kind = "files"

    def __init__(self, folder: Path, *, every: float = 0.1) -> None:
        super().__init__(f"files {FILE_PREFIX}* in {folder}", every=every)
        self._folder = folder

    def _ours(self) -> list[Path]:
        return [
            p for p in self._folder.glob(f"{FILE_PREFIX}*") if p.name[len(FILE_PREFIX) :].isdigit()
        ]

    def _prepare(self) -> None:
        if not self._folder.is_dir():
            raise ProviderError(f"cannot write the canary {self.where}: the folder is missing")
        for path in self._ours():
            path.unlink(missing_ok=True)  # a crashed drill's canaries, never data

    def _write(self, record: CanaryRecord) -> None:
        # "x": never create the folder again when a fault moved it away
        with (self._folder / f"{FILE_PREFIX}{record.seq}").open("x") as handle:
            handle.write(_iso(record.at) + "\n")

    def _read(self) -> list[CanaryRecord]:
        found = []
        for path in self._ours():
            record = _parse(path.name[len(FILE_PREFIX) :], path.read_text())
            if record is not None:
                found.append(record)
        return found

    def _remove(self) -> str:
        removed = self._ours()
        for path in removed:
            path.unlink(missing_ok=True)
        return f"{len(removed)} canary files removed from {self._folder}"

    def leftover_hint(self) -> str:
        """The command that removes the canaries."""
        return f"run rm {self._folder}/{FILE_PREFIX}* there"


def canary_for(catalog: Catalog, name: str, *, every: float = 0.1) -> CanaryWriter | None:
    """The canary writer of a component, or None when it has no data (process, haproxy, RPO 0)."""
    component = catalog.components[name]
    if component.provider not in DATA_PROVIDERS or component.rpo.total_seconds() <= 0:
        return None
    spec = component.spec
    health = component.health
    if component.provider == "postgres":
        if isinstance(health, PostgresCheck):
            dsn = health.dsn
        else:
            user = spec.get("superuser", "postgres")
            dsn = f"postgresql://{user}@{spec.get('host', '127.0.0.1')}:{spec.get('port', 5432)}/postgres"
        return PostgresCanary(dsn, every=every)
    if component.provider == "redis":
        if isinstance(health, RedisCheck):
            url = health.url
        else:
            url = f"redis://{spec.get('host', '127.0.0.1')}:{spec.get('port', 6379)}/0"
        return RedisCanary(url, every=every)
    return FilesCanary(catalog.resolve_path(str(spec["path"])), every=every)


@dataclass(frozen=True)
class CanaryReport:
    """The canary part of a drill record."""

    kind: str
    where: str
    every_s: float
    measure: CanaryMeasure | None
    read_error: str | None = None
    removal: str = ""
    failed_writes: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (times ISO ``Z``)."""
        from paramedic.store import iso_utc

        m = self.measure
        newest = m.newest_surviving if m else None
        return {
            "kind": self.kind,
            "where": self.where,
            "every_s": self.every_s,
            "written": m.written if m else None,
            "written_before_fault": m.written_before_fault if m else None,
            "survived_before_fault": m.survived_before_fault if m else None,
            "failed_writes": self.failed_writes,
            "first_at": iso_utc(self.first_at) if self.first_at else None,
            "last_at": iso_utc(self.last_at) if self.last_at else None,
            "survived": m.survived if m else None,
            "newest_surviving_seq": newest.seq if newest else None,
            "newest_surviving_at": iso_utc(newest.at) if newest else None,
            "rpo_s": m.rpo_s if m else None,
            "gaps": [list(g) for g in m.gaps] if m else [],
            "unknown": m.unknown if m else 0,
            "read_error": self.read_error,
            "removed": self.removal,
        }
