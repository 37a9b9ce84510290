"""One PostgreSQL cluster paramedic manages: its programs, start, stop, restart, SQL, ownership.

Programs come from ``spec.bin_dir``, else the folder of ``pg_ctl`` on PATH, else
``/usr/lib/postgresql/<PG_VERSION of the cluster>/bin``, else the newest
``/usr/lib/postgresql/*/bin``. They run as ``spec.user`` (through ``runuser -u USER --``) when
paramedic runs as root. A start keeps the options of the cluster's last start
(``postmaster.opts``; a copy is kept in ``<run_dir>/<component>/`` because a restored directory
has none) and sets ``-p spec.port``; the server log goes to ``agent.log_dir``/<component>.log.
SQL goes through psycopg as ``spec.superuser`` on ``spec.host``:``spec.port`` (trust, peer or
~/.pgpass: no password is ever written anywhere).

``PostgresProvider`` (strategies, backups) and ``postgres_failover`` build on these helpers;
keep their signatures stable.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.abc import Query
from psycopg.conninfo import make_conninfo
from pydantic import ValidationError

from paramedic.errors import ProviderError
from paramedic.providers.local import helpers
from paramedic.providers.local.commands import last_lines, shown
from paramedic.providers.local.data_specs import PostgresSpec
from paramedic.providers.local.procfs import stopped_family
from paramedic.providers.local.step_marker import safe_name
from paramedic.redact import redact

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog

START_WAIT_S = 3600
"""``pg_ctl start -t``: crash or archive recovery may take long; the step's timeout governs."""
STOP_WAIT_S = 60
"""``pg_ctl stop -t`` before a fast stop gives way to an immediate one."""
CONNECT_TIMEOUT_S = 5
POLL_S = 0.1
_STOP_SIGNALS = {"smart": signal.SIGTERM, "fast": signal.SIGINT, "immediate": signal.SIGQUIT}


class PostgresCluster:
    """Control of one cluster (``spec.data_dir``) as its owner: programs, start/stop, SQL."""

    def __init__(self, *, catalog: Catalog, name: str) -> None:
        self.catalog = catalog
        self.name = name
        try:
            self.spec = PostgresSpec.model_validate(catalog.components[name].spec)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(["spec", *(str(part) for part in first["loc"])])
            raise ProviderError(
                f"component {name!r}: {where}: {first['msg']}; fix it in the catalog"
            ) from exc
        self.data_dir = catalog.resolve_path(self.spec.data_dir)
        self.run_dir = catalog.resolve_path(catalog.agent.run_dir) / name
        self.log_path = catalog.resolve_path(catalog.agent.log_dir) / f"{name}.log"
        """The server log of every start paramedic makes (``pg_ctl -l``)."""
        self._bin_dir: Path | None = None

    # ------------------------------------------------------------ running programs

    @property
    def bin_dir(self) -> Path:
        """Folder of pg_ctl, pg_basebackup, pg_waldump... (found once, see the module docstring)."""
        if self._bin_dir is None:
            self._bin_dir = self._find_bin_dir()
        return self._bin_dir

    def _find_bin_dir(self) -> Path:
        if self.spec.bin_dir:
            given = self.catalog.resolve_path(self.spec.bin_dir)
            if not (given / "pg_ctl").is_file():
                raise ProviderError(
                    f"component {self.name!r}: spec.bin_dir {given} holds no pg_ctl; give the "
                    "folder of the PostgreSQL programs, e.g. /usr/lib/postgresql/15/bin"
                )
            return given
        on_path = shutil.which("pg_ctl")
        if on_path:
            return Path(on_path).resolve().parent
        with contextlib.suppress(OSError):
            version = (self.data_dir / "PG_VERSION").read_text().strip()
            matching = Path(f"/usr/lib/postgresql/{version}/bin")
            if (matching / "pg_ctl").is_file():
                return matching
        installed = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_major)
        if installed:
            return Path(installed[-1]).parent
        raise ProviderError(
            f"component {self.name!r}: pg_ctl is neither on PATH nor in /usr/lib/postgresql/*/bin;"
            " install postgresql or set spec.bin_dir"
        )

    def owner_argv(self, argv: list[str]) -> list[str]:
        """``argv`` run as ``spec.user`` (through runuser) when paramedic is root."""
        if os.geteuid() != 0:
            return argv
        user = self.spec.user
        if not user or user == "root":
            raise ProviderError(
                f"component {self.name!r}: paramedic runs as root and PostgreSQL refuses to; "
                "set spec.user to the OS user owning the cluster (e.g. postgres)"
            )
        return ["runuser", "-u", user, "--", *argv]

    def pg(
        self,
        program: str,
        *args: str,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run PostgreSQL program ``program`` from ``bin_dir`` as ``spec.user`` (blocking).

        ``check``: a non-zero exit raises ProviderError quoting the last lines of its output.
        Never start a server with it without ``-l``: the server would hold its output pipes.
        """
        argv = self.owner_argv([str(self.bin_dir / program), *args])
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                cwd="/",
                env={**os.environ, **(env or {})},
                check=False,
            )
        except OSError as exc:
            raise self._not_started(argv, exc) from exc
        if check and done.returncode != 0:
            raise self.failure(program, done)
        return done

    async def pg_async(
        self,
        program: str,
        *args: str,
        check: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """``pg`` without blocking the event loop; a cancellation kills the program."""
        return await self.run_as_owner(
            [str(self.bin_dir / program), *args], check=check, env=env, label=program
        )

    async def run_as_owner(
        self,
        argv: list[str],
        *,
        check: bool = True,
        env: Mapping[str, str] | None = None,
        label: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` as ``spec.user`` to its end; a cancellation kills it and its group."""
        full = self.owner_argv(argv)
        try:
            proc = await asyncio.create_subprocess_exec(
                *full,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd="/",
                env={**os.environ, **(env or {})},
                start_new_session=True,
            )
        except OSError as exc:
            raise self._not_started(full, exc) from exc
        try:
            with helpers.tracked(proc.pid):
                out, err = await proc.communicate()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise
        code = proc.returncode if proc.returncode is not None else 0
        done = subprocess.CompletedProcess(
            full, code, out.decode(errors="replace"), err.decode(errors="replace")
        )
        if check and code != 0:
            raise self.failure(label or Path(argv[0]).name, done)
        return done

    def failure(self, program: str, done: subprocess.CompletedProcess[str]) -> ProviderError:
        """The one-line error of a program that failed: its exit code and last output lines."""
        tail = " | ".join(last_lines(f"{done.stdout}\n{done.stderr}", 3)) or "no output"
        return ProviderError(
            f"component {self.name!r}: {program} exited with code {done.returncode}: "
            f"{redact(tail)}; see the server log {self.log_path}"
        )

    def _not_started(self, argv: list[str], exc: OSError) -> ProviderError:
        return ProviderError(
            f"component {self.name!r}: cannot run `{shown(argv)}`: {exc.strerror}; "
            "check spec.bin_dir and spec.user"
        )

    # ------------------------------------------------------------ the cluster

    def dsn(self, dbname: str = "postgres") -> str:
        """libpq connection string of ``dbname`` on this cluster as ``spec.superuser`` (no password)."""
        return make_conninfo(
            host=self.spec.host, port=self.spec.port, user=self.spec.superuser, dbname=dbname
        )

    async def query(self, statement: Query, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        """Rows of one statement run in autocommit; ProviderError when the cluster cannot answer."""
        try:
            async with await psycopg.AsyncConnection.connect(
                self.dsn(dbname), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
            ) as conn:
                cursor = await conn.execute(statement)
                return list(await cursor.fetchall()) if cursor.description else []
        except psycopg.Error as exc:
            where = f"{self.spec.host}:{self.spec.port}"
            raise ProviderError(
                f"component {self.name!r}: cannot query {where} as {self.spec.superuser}: "
                f"{_first_line(exc)}; check that it runs and that this role may connect "
                "(trust, peer or ~/.pgpass)"
            ) from exc

    def is_running(self) -> bool:
        """True while a postmaster runs on ``data_dir`` (``pg_ctl status``)."""
        if not self.data_dir.is_dir():
            return False
        return self.pg("pg_ctl", "status", "-D", str(self.data_dir), check=False).returncode == 0

    def postmaster_pid(self) -> int | None:
        """Pid in ``postmaster.pid`` while the cluster runs."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        return None

    start_if_down: bool = True
    """False for a cluster taken over from another agent: ``start()`` leaves a stopped one to
    its check and recovery (fenced) instead of starting it outside any recovery."""

    async def start(self) -> None:
        """Take charge at agent start: a running cluster is adopted as it is; a stopped one is
        started only when ``start_if_down``."""
        if self.start_if_down:
            await self.start_server()

    async def start_server(self) -> None:
        """Start the cluster unless it runs, and wait until it accepts connections."""
        if self.is_running():
            return
        if not (self.data_dir / "PG_VERSION").is_file():
            raise ProviderError(
                f"component {self.name!r}: {self.data_dir} is not a PostgreSQL data directory; "
                "restore it (restore_from_backup) or fix spec.data_dir"
            )
        log = self._server_log()
        options = self._start_options()
        done = await self.pg_async(
            "pg_ctl", "start", "-D", str(self.data_dir), "-o", options, "-l", str(log),
            "-w", "-t", str(START_WAIT_S), check=False,
        )  # fmt: skip
        if done.returncode != 0 and not self.is_running():
            raise ProviderError(
                f"component {self.name!r}: pg_ctl start failed: {self.log_tail()}; "
                f"see the server log {log}"
            )

    async def stop(self, mode: str = "fast") -> str | None:
        """Stop the cluster (``smart``, ``fast`` or ``immediate``); no error when it is not running.

        A postmaster whose data directory vanished is found through its socket lock file and
        signalled directly. Returns ``postmaster was stopped (state T); …`` when a SIGSTOPped
        postmaster had to be continued, else None.
        """
        if mode not in _STOP_SIGNALS:
            raise ProviderError(f"component {self.name!r}: unknown stop mode {mode!r}")
        if self.is_running():
            said = self._continue_if_stopped(_STOP_SIGNALS[mode])
            done = await self.pg_async(
                "pg_ctl", "stop", "-D", str(self.data_dir), "-m", mode, "-w",
                "-t", str(STOP_WAIT_S), check=False,
            )  # fmt: skip
            if done.returncode != 0 and self.is_running():
                tail = " | ".join(last_lines(done.stderr or done.stdout, 2))
                raise ProviderError(
                    f"component {self.name!r}: pg_ctl stop -m {mode} failed: {tail}; "
                    "stop it with mode immediate or by hand"
                )
            return said
        pid = self._orphan_postmaster()
        if pid is not None:
            await _signal_and_wait(pid, _STOP_SIGNALS[mode])
        return None

    def _continue_if_stopped(self, sig: signal.Signals) -> str | None:
        """A SIGSTOPped postmaster cannot act on pg_ctl's signal: send it, then SIGCONT.

        As systemd does: the stop signal first, so the server sees it the moment it runs
        again; pg_ctl then sends the same signal once more, which PostgreSQL takes calmly.
        """
        pid = self.postmaster_pid()
        stopped = [] if pid is None else stopped_family(pid)
        if pid is None or not stopped:
            return None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)
        for each in stopped:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(each, signal.SIGCONT)
        return f"postmaster was stopped (state T); sent SIGCONT after {sig.name}"

    async def restart(self) -> str:
        """Stop (fast, else immediate) and start again, or start when down; says what it did."""
        if not self.is_running():
            await self.stop("immediate")  # an orphan postmaster still holding the port
            await self.start_server()
            return "was not running: started"
        how = "stopped (fast)"
        try:
            said = await self.stop("fast")
        except ProviderError as exc:
            said = await self.stop("immediate")
            how = f"fast stop failed ({exc}); stopped (immediate)"
        await self.start_server()
        return f"{said}; {how} and started" if said else f"{how} and started"

    async def move_aside(self, incident_id: str) -> Path:
        """Rename ``data_dir`` to ``<data_dir>.damaged-<incident id>`` (``.2``... if taken); never deletes."""
        if not self.data_dir.exists():
            raise ProviderError(
                f"component {self.name!r}: data directory {self.data_dir} does not exist; "
                "nothing to move aside"
            )
        aside = self._aside_name(incident_id)
        self._rename_aside(aside)
        return aside

    def _aside_name(self, incident_id: str) -> Path:
        base = self.data_dir.with_name(f"{self.data_dir.name}.damaged-{safe_name(incident_id)}")
        aside, n = base, 2
        while aside.exists():
            aside, n = base.with_name(f"{base.name}.{n}"), n + 1
        return aside

    def _rename_aside(self, aside: Path) -> None:
        self._start_options()  # keeps a copy of postmaster.opts for the directory that follows
        try:
            self.data_dir.rename(aside)
        except OSError as exc:
            raise ProviderError(
                f"component {self.name!r}: cannot move {self.data_dir} aside to {aside}: "
                f"{exc.strerror}; check the permissions of {self.data_dir.parent}"
            ) from exc

    def log_tail(self, lines: int = 3) -> str:
        """The last FATAL/PANIC lines of the server log (else its last lines), one line."""
        try:
            text = self.log_path.read_text(errors="replace")[-20_000:]
        except OSError:
            return "no server log"
        serious = [line for line in text.splitlines() if "FATAL" in line or "PANIC" in line]
        chosen = serious[-lines:] if serious else last_lines(text, lines)
        return redact(" | ".join(line.strip() for line in chosen)) or "empty server log"

    def own(self, path: Path) -> None:
        """Give ``path`` (one entry) to ``spec.user`` when paramedic is root."""
        ids = self._owner_ids()
        if ids is not None:
            os.chown(path, *ids)

    def own_tree(self, path: Path) -> None:
        """Give ``path`` and everything under it to ``spec.user`` when paramedic is root."""
        ids = self._owner_ids()
        if ids is None:
            return
        for root, dirs, files in os.walk(path):
            for entry in (root, *(os.path.join(root, n) for n in (*dirs, *files))):
                os.lchown(entry, *ids)

    def _owner_ids(self) -> tuple[int, int] | None:
        if os.geteuid() != 0 or not self.spec.user:
            return None
        try:
            record = pwd.getpwnam(self.spec.user)
        except KeyError:
            raise ProviderError(
                f"component {self.name!r}: spec.user {self.spec.user!r} is not an OS user; "
                "fix spec.user"
            ) from None
        return record.pw_uid, record.pw_gid

    def _server_log(self) -> Path:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.touch(exist_ok=True)
        self.own(self.log_path)
        return self.log_path

    def _start_options(self) -> str:
        """``pg_ctl -o`` options: those of the last start (postmaster.opts) with ``-p spec.port``."""
        saved = self.run_dir / "postmaster.opts"
        text = None
        with contextlib.suppress(OSError):
            text = (self.data_dir / "postmaster.opts").read_text()
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_text(text)
        if text is None:
            with contextlib.suppress(OSError):
                text = saved.read_text()
        kept: list[str] = []
        words = shlex.split(text)[1:] if text else []
        skip = False
        for word in words:
            if skip:
                skip = False
            elif word in ("-D", "-p"):
                skip = True
            else:
                kept.append(word)
        return shlex.join([*kept, "-p", str(self.spec.port)])

    def _orphan_postmaster(self) -> int | None:
        """A live postmaster serving our port for ``data_dir`` (found by its socket lock file)."""
        folders = {"/var/run/postgresql", "/tmp"}
        with contextlib.suppress(OSError, ValueError):
            words = shlex.split((self.run_dir / "postmaster.opts").read_text())
            folders.update(words[i + 1] for i, w in enumerate(words[:-1]) if w == "-k")
        for folder in folders:
            lock = Path(folder) / f".s.PGSQL.{self.spec.port}.lock"
            with contextlib.suppress(OSError, ValueError, IndexError):
                lines = lock.read_text().splitlines()
                pid, served = int(lines[0]), Path(lines[1])
                if served == self.data_dir and _alive(pid):
                    return pid
        return None


def _major(path: str) -> int:
    found = re.search(r"/postgresql/(\d+)", path)
    return int(found[1]) if found else 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _signal_and_wait(pid: int, signum: signal.Signals) -> None:
    """Signal a postmaster and wait for it to go; SIGKILL after ``STOP_WAIT_S``."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
    for _ in range(int(STOP_WAIT_S / POLL_S)):
        if not _alive(pid):
            return
        await asyncio.sleep(POLL_S)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _first_line(exc: BaseException) -> str:
    """libpq's reason on one line, without its ``connection to server ... failed:`` preamble."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    return redact(first.rpartition(" failed: ")[2].strip())


__all__ = ["CONNECT_TIMEOUT_S", "POLL_S", "START_WAIT_S", "STOP_WAIT_S", "PostgresCluster"]
