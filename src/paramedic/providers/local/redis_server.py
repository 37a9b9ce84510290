"""The redis-server paramedic owns for one component: started, adopted after an agent crash,
stopped without losing what it holds, waited for, and the files it keeps its data in.

It runs as ``redis-server [CONFIG] --port P --dir DIR --daemonize no`` (``--bind HOST`` too
when there is no config), as ``spec.user`` (through ``setpriv``) when the agent is root, in
its own session (see ``supervise``): pid file
``agent.run_dir``/<component>/server.pid, output in ``agent.log_dir``/<component>.log.

Stopping keeps the data: ``SHUTDOWN SAVE`` when the server answers. When that save fails (its
folder was deleted, the disk refuses), the dataset is first rescued from memory (see
``redis_rescue``) into a fresh RDB file, then the server is stopped with ``SHUTDOWN NOSAVE``;
when the rescue fails too, the server is left running and the stop fails: killing it would
throw its data away. A server that does not answer PING (hung) is continued if it was
stopped, else signalled (SIGTERM, SIGKILL after ``stop_grace``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import re
import shutil
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from paramedic.catalog.model import Catalog
from paramedic.clock import Clock
from paramedic.errors import ProviderError
from paramedic.providers.local.data_specs import RedisSpec
from paramedic.providers.local.datafiles import exists, free_name, give_to_owner_of
from paramedic.providers.local.redis_rescue import rescue_rdb
from paramedic.providers.local.supervise import (
    STARTING_NOTE,
    OwnedProcess,
    exit_text,
)

POLL_S = 0.05
ANSWER_TIMEOUT_S = 1.0
"""How long a PING may take before the server counts as not answering (hung)."""
_LOG_PREFIX = re.compile(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ ([.*#-]) ")


@dataclass(frozen=True)
class RedisFiles:
    """Where a server keeps its data: the RDB file and the AOF (a folder since Redis 7)."""

    dir: Path
    dbfilename: str = "dump.rdb"
    appendonly: bool = False
    appenddirname: str | None = "appendonlydir"
    """None before Redis 7, whose AOF is the single file ``appendfilename``."""
    appendfilename: str = "appendonly.aof"

    @property
    def rdb(self) -> Path:
        """The RDB snapshot the server loads when AOF is off."""
        return self.dir / self.dbfilename

    @property
    def aof(self) -> Path:
        """The AOF folder (Redis 7) or file; loaded instead of the RDB when AOF is on."""
        return self.dir / (self.appenddirname or self.appendfilename)


def files_from_config(config: Path | None, folder: Path) -> RedisFiles:
    """The data files of a server started with ``config`` and ``--dir folder`` (Redis defaults)."""
    settings = _read_config(config, set()) if config is not None else {}
    return RedisFiles(
        dir=folder,
        dbfilename=settings.get("dbfilename", "dump.rdb"),
        appendonly=settings.get("appendonly", "no").lower() == "yes",
        appenddirname=settings.get("appenddirname", "appendonlydir"),
        appendfilename=settings.get("appendfilename", "appendonly.aof"),
    )


def _read_config(path: Path, seen: set[Path]) -> dict[str, str]:
    """``redis.conf`` directives, the last one winning, ``include`` files followed."""
    if path in seen:
        return {}
    seen.add(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ProviderError(
            f"cannot read redis config {path}: {exc.strerror}; fix spec.config"
        ) from exc
    settings: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" ")
        value = value.strip().strip("\"'")
        if key.lower() == "include":
            settings.update(_read_config(path.parent / value, seen))
        else:
            settings[key.lower()] = value
    return settings


def connect(host: str, port: int, timeout: float = ANSWER_TIMEOUT_S) -> redis.asyncio.Redis:
    """A client of one connection, with socket timeouts and no retries (we decide what to retry)."""
    return redis.asyncio.Redis(
        host=host,
        port=port,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        single_connection_client=True,
        decode_responses=True,
    )


async def answers(host: str, port: int) -> bool:
    """True when a server answers PING (or says it is loading) within ``ANSWER_TIMEOUT_S``."""
    try:
        async with connect(host, port) as client:
            await client.ping()
    except redis.exceptions.BusyLoadingError:
        return True
    except (redis.exceptions.RedisError, OSError):
        return False
    return True


async def ready(host: str, port: int) -> dict[str, Any] | None:
    """``INFO`` of a server that answers PING and has loaded its data; None while it has not."""
    try:
        async with connect(host, port) as client:
            await client.ping()
            info: dict[str, Any] = await client.info("all")
    except (redis.exceptions.RedisError, OSError):
        return None
    return info if str(info.get("loading", "0")) == "0" else None


def key_count(info: dict[str, Any]) -> int:
    """Keys in all databases, from ``INFO keyspace`` (``db0: {keys: 3, ...}``)."""
    return sum(
        int(value.get("keys", 0))
        for name, value in info.items()
        if name.startswith("db") and isinstance(value, dict)
    )


def served_by(info: dict[str, Any], pid: int) -> bool:
    """True when the server that gave ``info`` is process ``pid``, or its child under runuser."""
    server_pid = int(info.get("process_id", 0))
    if server_pid == pid:
        return True
    try:
        stat = Path(f"/proc/{server_pid}/stat").read_text()
    except OSError:
        return False
    return int(stat[stat.rindex(")") + 2 :].split()[1]) == pid


def log_tail(path: Path, lines: int = 2) -> str:
    """What the server last said went wrong, from its log since paramedic last started it.

    Its warnings (``#`` lines, the memory-overcommit advice left out) when it gave any, else
    its last ``lines`` lines; Redis's own prefix (pid, role, time) removed.
    """
    try:
        with path.open("rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 16384))
            text = log.read().decode(errors="replace")
    except OSError:
        return "no log"
    segment = text.splitlines()
    # Its output may precede the "started pid" note: the note written before the fork leads.
    for marker in (STARTING_NOTE, ": started pid "):
        found = [
            i
            for i, line in enumerate(segment)
            if line.startswith("--- paramedic") and marker in line
        ]
        if found:
            segment = segment[found[-1] + 1 :]
            break
    own = [_level_and_text(line) for line in segment if line.strip()]
    own = [(level, line) for level, line in own if not line.startswith("--- paramedic")]
    warnings = [line for level, line in own if level == "#" and not line.startswith("WARNING")]
    chosen = warnings[-lines:] or [line for _level, line in own[-lines:]]
    return " | ".join(chosen) or "no output"


def _level_and_text(line: str) -> tuple[str, str]:
    """(level, message) of a Redis log line (``#`` warning, ``*`` notice...); ("", line) else."""
    match = _LOG_PREFIX.match(line)
    if match is None:
        return "", line.strip()
    return match[1], line[match.end() :].strip()


def as_user(user: str | None, argv: list[str], component: str) -> list[str]:
    """``argv`` run as ``user`` when the agent is root; checked otherwise.

    Through ``setpriv`` (it executes the server in place: signals and exit codes are the
    server's own) rather than ``runuser``, which stays as a parent and SIGKILLs its child 2 s
    after a SIGTERM, cutting a save short.
    """
    if user is None:
        return argv
    try:
        info = pwd.getpwnam(user)
    except KeyError:
        raise ProviderError(
            f"component {component!r}: spec.user {user!r} is not a user on this host; "
            "create it or fix spec.user"
        ) from None
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            return ["runuser", "-u", user, "--", *argv]
        ids = [f"--reuid={info.pw_uid}", f"--regid={info.pw_gid}", "--init-groups"]
        return [setpriv, *ids, "--", *argv]
    if os.geteuid() != info.pw_uid:
        me = pwd.getpwuid(os.geteuid()).pw_name
        raise ProviderError(
            f"component {component!r}: spec.user is {user!r} but the agent runs as {me!r}; "
            "run the agent as root or as that user"
        )
    return argv


class RedisServer:
    """The server process of one component: command line, start, adopt, stop, readiness."""

    def __init__(
        self,
        *,
        name: str,
        spec: RedisSpec,
        catalog: Catalog,
        clock: Clock,
        on_exit: Callable[[int | None], None],
    ) -> None:
        self.name = name
        self.spec = spec
        self.folder = catalog.resolve_path(spec.dir)
        self.config = catalog.resolve_path(spec.config) if spec.config else None
        self.run_dir = catalog.resolve_path(catalog.agent.run_dir) / name
        self.log_path = catalog.resolve_path(catalog.agent.log_dir) / f"{name}.log"
        self.record_path = self.run_dir / "server.pid"
        self.proc: OwnedProcess | None = None
        self._clock = clock
        self._on_exit = on_exit

    @property
    def where(self) -> str:
        """``host:port`` for messages."""
        return f"{self.spec.host}:{self.spec.port}"

    @property
    def running(self) -> OwnedProcess | None:
        """The owned server process while it is alive."""
        return self.proc if self.proc is not None and self.proc.alive else None

    @property
    def binary(self) -> str:
        """``spec.binary`` found on PATH (as given when it is not there)."""
        return shutil.which(self.spec.binary) or self.spec.binary

    def argv(self, *extra: str) -> list[str]:
        """The command line paramedic starts the server with (``extra`` appended)."""
        argv = [self.binary, *([str(self.config)] if self.config else [])]
        argv += ["--port", str(self.spec.port), "--dir", str(self.folder), "--daemonize", "no"]
        if self.config is None:
            argv += ["--bind", self.spec.host]
        return as_user(self.spec.user, [*argv, *extra], self.name)

    async def answers(self) -> bool:
        """True when the server at ``host:port`` (ours or not) answers PING."""
        return await answers(self.spec.host, self.spec.port)

    async def files(self) -> RedisFiles:
        """The data files in use: asked of the running server, else read from the config."""
        try:
            async with connect(self.spec.host, self.spec.port) as client:
                pipe = client.pipeline(transaction=False)
                for key in ("dir", "dbfilename", "appendonly", "appenddirname", "appendfilename"):
                    pipe.config_get(key)
                replies = await pipe.execute()
        except (redis.exceptions.RedisError, OSError):
            return files_from_config(self.config, self.folder)
        live: dict[str, str] = {}
        for reply in replies:
            live.update(reply)
        return RedisFiles(
            dir=Path(live.get("dir") or self.folder),
            dbfilename=live.get("dbfilename", "dump.rdb"),
            appendonly=live.get("appendonly", "no") == "yes",
            appenddirname=live.get("appenddirname"),
            appendfilename=live.get("appendfilename", "appendonly.aof"),
        )

    # ------------------------------------------------------------ start

    async def adopt(self) -> OwnedProcess | None:
        """Take charge of the server a previous agent run started, if it still runs.

        redis-server rewrites its process title once started; the identity (pid, start time,
        session) does not change with it, so no retry is needed for the title.
        """
        self.proc = OwnedProcess.adopt(
            label=self.name,
            record_path=self.record_path,
            log_path=self.log_path,
            clock=self._clock,
            on_exit=self._on_exit,
        )
        return self.proc

    def prepare_folder(self) -> None:
        """Create ``spec.dir`` when it is missing, owned by ``spec.user``."""
        if self.folder.is_dir():
            return
        self.folder.mkdir(parents=True)
        if self.spec.user is not None and os.geteuid() == 0:
            info = pwd.getpwnam(self.spec.user)
            os.chown(self.folder, info.pw_uid, info.pw_gid)

    def spawn(self, reason: str, *extra: str) -> OwnedProcess:
        """Start the server (not waiting for it); ``extra`` arguments override the config."""
        self.prepare_folder()
        argv = self.argv(*extra)
        try:
            self.proc = OwnedProcess.spawn(
                label=self.name,
                argv=argv,
                cwd=self.folder,
                env=os.environ,
                port=self.spec.port,
                reason=reason,
                record_path=self.record_path,
                log_path=self.log_path,
                clock=self._clock,
                on_exit=self._on_exit,
            )
        except OSError as exc:
            raise ProviderError(
                f"component {self.name!r}: cannot start {argv[0]!r}: {exc.strerror}; "
                "check spec.binary (redis-server on PATH or a path)"
            ) from exc
        return self.proc

    async def wait_ready(self, proc: OwnedProcess) -> dict[str, Any]:
        """Wait until the server answers PING with its data loaded; its ``INFO``.

        ProviderError with the server's last log lines when it exits first. No deadline of its
        own: loading a large dataset takes what it takes, and the step's timeout bounds it.
        """
        while True:
            if not proc.alive:
                raise ProviderError(
                    f"component {self.name!r}: redis-server {exit_text(proc.returncode)} before "
                    f"answering on {self.where}: {log_tail(self.log_path)}; see {self.log_path}"
                )
            info = await ready(self.spec.host, self.spec.port)
            if info is not None and served_by(info, proc.pid):
                proc.state()  # keeps the pid file's command line current for adoption
                return info
            await asyncio.sleep(POLL_S)

    # ------------------------------------------------------------ stop

    async def stop(self, reason: str) -> str:
        """Stop the server keeping its data (see the module's docstring); what was done."""
        proc = self.running
        hung = proc is not None and not await self.answers() and _resume_if_stopped(proc)
        if hung:
            await asyncio.sleep(POLL_S)  # a SIGSTOPped server, continued, may save properly now
        done = await self._stop(proc, reason)
        return f"was stopped (state T); sent SIGCONT before SHUTDOWN SAVE; {done}" if hung else done

    async def _stop(self, proc: OwnedProcess | None, reason: str) -> str:
        grace = self.spec.stop_grace.total_seconds()
        if not await self.answers():
            if proc is None:
                return "was not running"
            await proc.stop(signal.SIGTERM, grace, reason)
            return f"did not answer PING; stopped by signal (SIGTERM, SIGKILL after {grace:g}s)"
        refused = await self._shutdown_save(grace)
        if refused is None and await self._gone(proc, grace):
            return "stopped with SHUTDOWN SAVE (its data saved first)"
        if refused is None and proc is not None and not await self.answers():
            # SHUTDOWN SAVE saved and closed the server; what remains is a lingering process.
            await proc.stop(signal.SIGTERM, grace, reason)
            return (
                "stopped with SHUTDOWN SAVE (its data saved first); its process lingered: signalled"
            )
        refused = refused or f"still running {grace:g}s after SHUTDOWN SAVE"
        rescued, how = await self._rescue()
        if not rescued:
            raise ProviderError(
                f"component {self.name!r}: SHUTDOWN SAVE failed ({refused}) and {how}; stopping "
                "the server would lose the data it holds, so it is left running: fix its folder "
                f"{self.folder} (space, permissions) and retry, or stop it by hand"
            )
        with contextlib.suppress(redis.exceptions.RedisError, OSError):
            async with connect(self.spec.host, self.spec.port) as client:
                await client.shutdown(nosave=True)  # what it holds is safe in the rescued file
        if not await self._gone(proc, grace):
            if proc is None:
                raise ProviderError(
                    f"component {self.name!r}: a redis-server paramedic did not start answers on "
                    f"{self.where} and does not stop; {how}; stop it by hand, then retry"
                )
            await proc.stop(signal.SIGTERM, grace, reason)
        return f"SHUTDOWN SAVE failed ({refused}); {how}; stopped with SHUTDOWN NOSAVE"

    async def _shutdown_save(self, grace: float) -> str | None:
        """Send SHUTDOWN SAVE; None when the server went away, else why it refused."""
        with contextlib.suppress(OSError):
            self.prepare_folder()
        try:
            async with connect(self.spec.host, self.spec.port, timeout=grace) as client:
                await client.shutdown(save=True)  # returns when the server closed the connection
        except redis.exceptions.TimeoutError:
            return f"no answer to SHUTDOWN SAVE within {grace:g}s"
        except redis.exceptions.ConnectionError:
            return None  # closed before the client saw it: exiting all the same
        except redis.exceptions.RedisError as exc:
            return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None

    async def _gone(self, proc: OwnedProcess | None, grace: float) -> bool:
        """Wait up to ``grace`` for the server to exit (ours) or stop answering (another's)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while loop.time() < deadline:
            if proc is not None and not proc.alive:
                return True
            if proc is None and not await self.answers():
                return True
            if proc is not None:
                _resume_if_stopped(proc)  # a runuser parent (no setpriv) stops itself again
            await asyncio.sleep(POLL_S)
        return False

    async def _rescue(self) -> tuple[bool, str]:
        """Save what the server holds in memory when it cannot save itself: (saved?, how)."""
        try:
            files = await self.files()
            self.prepare_folder()
            target = self.folder / files.dbfilename
            rescued = target.with_name(f".{target.name}.rescue")
            size = await rescue_rdb(self.spec.host, self.spec.port, rescued)
            if exists(target):  # older than what memory holds, but kept all the same
                target.rename(free_name(target, "before-rescue"))
            rescued.rename(target)
            give_to_owner_of(target, self.folder)
        except (ProviderError, redis.exceptions.RedisError, OSError, ValueError) as exc:
            return False, f"the dataset could not be rescued from memory either ({exc})"
        return True, (
            f"dataset rescued from memory over a replication sync into {target} ({size} bytes)"
        )


def _resume_if_stopped(proc: OwnedProcess) -> bool:
    """SIGCONT the server's group when it is stopped (state T); True when it was."""
    try:
        stat = Path(f"/proc/{proc.pid}/stat").read_text()
        stopped = stat[stat.rindex(")") + 2] in "Tt"
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        for child in children:  # the redis-server under a runuser parent
            child_stat = Path(f"/proc/{child}/stat").read_text()
            stopped = stopped or child_stat[child_stat.rindex(")") + 2] in "Tt"
    except (OSError, ValueError):
        return False
    if stopped and os.getpgid(proc.pid) == proc.pid:
        os.killpg(proc.pid, signal.SIGCONT)
    return stopped
