"""Processes paramedic owns: started in their own session, adopted across agent runs,
their exit learned at once through a pidfd, stopped as a group.

One ``OwnedProcess`` is one OS process paramedic started: a component's primary instance or
a scale-out instance. Its pid file (``ProcessRecord``, JSON) keeps pid, start time and argv,
so a later agent run can tell that same process from a stranger that reused the pid.

Why ``subprocess.Popen`` and not asyncio's subprocess: asyncio's transport kills the child
when it is closed or garbage-collected, but an owned process must outlive the agent
(``close(stop_owned=False)``, an agent killed by SIGKILL). A pidfd registered with the event
loop reports the exit of a child and of an adopted process alike, at once and without polling.
Linux only (``/proc`` and ``pidfd_open``, Linux 5.3+).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shlex
import signal
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from paramedic.clock import Clock
from paramedic.errors import ProviderError
from paramedic.redact import redact

_log = logging.getLogger(__name__)
_CLK_TCK = os.sysconf("SC_CLK_TCK")
KILL_WAIT_S = 5.0
"""How long a process may take to vanish after SIGKILL before we call it stuck."""

ExitCallback = Callable[[int | None], None]


# ---------------------------------------------------------------- small files


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically (a crash leaves the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
    tmp.replace(path)


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object in ``path``; empty when it is missing or unreadable (logged)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        _log.warning("ignoring unreadable state file %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


# ---------------------------------------------------------------- /proc


def proc_start_time(pid: int) -> int | None:
    """Start time of a live ``pid`` in clock ticks since boot; None when gone or a zombie."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    state, start = fields[0], int(fields[19])  # fields 3 and 22 of proc(5)
    return None if state in ("Z", "X") else start


def proc_cmdline(pid: int) -> list[str] | None:
    """argv of ``pid`` as /proc shows it; None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    raw = raw.rstrip(b"\0")
    return [part.decode(errors="surrogateescape") for part in raw.split(b"\0")] if raw else []


def _seconds_since_start(start_ticks: int) -> float:
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    return max(0.0, uptime - start_ticks / _CLK_TCK)


def is_same_process(pid: int, start_time: int) -> bool:
    """True when ``pid`` is alive and is the process that started at ``start_time``."""
    return proc_start_time(pid) == start_time


def exit_text(code: int | None) -> str:
    """``exited with code -9 (SIGKILL)``, ``exited with code 1``, or unknown for an adopted one."""
    if code is None:
        return "exited (exit code unknown: adopted from a previous agent run)"
    if code < 0:
        try:
            return f"exited with code {code} ({signal.Signals(-code).name})"
        except ValueError:
            pass
    return f"exited with code {code}"


def _seconds_text(seconds: float) -> str:
    return f"{seconds:.1f}s" if seconds < 60 else f"{int(seconds)}s"


# ---------------------------------------------------------------- the pid file


@dataclass
class ProcessRecord:
    """What the pid file of an owned process says about it."""

    pid: int
    start_time: int
    """Clock ticks since boot (field 22 of /proc/<pid>/stat): with the pid, an identity."""
    argv: list[str]
    """The argv paramedic launched."""
    cmdline: list[str]
    """/proc/<pid>/cmdline as last seen (differs from argv once ``sh -c`` execs its command)."""
    port: int | None
    started_at: str

    def save(self, path: Path) -> None:
        """Write the record to ``path``."""
        write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> ProcessRecord | None:
        """The record in ``path``; None when missing or not a record."""
        data = read_json(path)
        try:
            return cls(**data) if data else None
        except TypeError:
            _log.warning("ignoring pid file %s: not a paramedic process record", path)
            return None

    def is_running(self) -> bool:
        """True when this very process is alive: same pid, start time and command line.

        An empty command line is a process still inside execve (Popen returns before the kernel
        has set up the new argv): pid and start time, an identity on their own, then decide.
        """
        if not is_same_process(self.pid, self.start_time):
            return False
        cmdline = proc_cmdline(self.pid)
        return not cmdline or cmdline in (self.cmdline, self.argv)


class _Child(subprocess.Popen[bytes]):
    """A Popen that can be let go: once detached it neither warns nor reaps when collected."""

    detached = False

    def __del__(self) -> None:
        if not self.detached:
            super().__del__()


# ---------------------------------------------------------------- one owned process


class OwnedProcess:
    """One OS process paramedic started; ``spawn`` or ``adopt`` make one."""

    def __init__(
        self,
        *,
        label: str,
        record: ProcessRecord,
        record_path: Path,
        log_path: Path,
        clock: Clock,
        on_exit: ExitCallback | None,
        popen: _Child | None = None,
    ) -> None:
        self.label = label
        self.record = record
        self.record_path = record_path
        self.log_path = log_path
        self.returncode: int | None = None
        self.stop_reason: str | None = None
        self._clock = clock
        self._on_exit = on_exit
        self._popen = popen
        self._exited = asyncio.Event()
        self._started_mono = clock.monotonic()
        self._exited_mono: float | None = None
        self._pidfd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._group = False

    @property
    def pid(self) -> int:
        """The process id."""
        return self.record.pid

    @property
    def alive(self) -> bool:
        """True until the process has exited."""
        return not self._exited.is_set()

    @classmethod
    def spawn(
        cls,
        *,
        label: str,
        argv: list[str],
        cwd: Path | None,
        env: Mapping[str, str],
        port: int | None,
        reason: str,
        record_path: Path,
        log_path: Path,
        clock: Clock,
        on_exit: ExitCallback | None,
    ) -> OwnedProcess:
        """Start ``argv`` in its own session, output appended to ``log_path``; OSError if not."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            popen = _Child(
                argv,
                cwd=cwd,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # The child is not reaped before we wait for it, so /proc still shows it.
        record = ProcessRecord(
            pid=popen.pid,
            start_time=proc_start_time(popen.pid) or 0,
            argv=list(argv),
            cmdline=proc_cmdline(popen.pid) or list(argv),
            port=port,
            started_at=clock.now().isoformat(timespec="seconds"),
        )
        record.save(record_path)
        proc = cls(
            label=label,
            record=record,
            record_path=record_path,
            log_path=log_path,
            clock=clock,
            on_exit=on_exit,
            popen=popen,
        )
        proc._group = True
        proc.note(f"started pid {popen.pid} ({reason}): {redact(shlex.join(argv))}")
        proc._watch()
        return proc

    @classmethod
    def adopt(
        cls,
        *,
        label: str,
        record_path: Path,
        log_path: Path,
        clock: Clock,
        on_exit: ExitCallback | None,
    ) -> OwnedProcess | None:
        """Take charge of the process a previous agent run left, if it is still that process."""
        record = ProcessRecord.load(record_path)
        if record is None or not record.is_running():
            return None
        proc = cls(
            label=label,
            record=record,
            record_path=record_path,
            log_path=log_path,
            clock=clock,
            on_exit=on_exit,
        )
        try:
            proc._watch()
        except ProcessLookupError:
            return None
        if not record.is_running():  # gone, or the pid reused, between the check and the pidfd
            proc._unwatch()
            return None
        with contextlib.suppress(OSError):
            proc._started_mono = clock.monotonic() - _seconds_since_start(record.start_time)
        # Signal the group only when it is the session paramedic created for it.
        with contextlib.suppress(OSError):
            proc._group = os.getpgid(record.pid) == record.pid
        proc.note(f"adopted pid {record.pid}, left running by a previous agent run")
        return proc

    # ------------------------------------------------------------ exit

    def _watch(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._pidfd = os.pidfd_open(self.pid)
        self._loop.add_reader(self._pidfd, self._exit_seen)

    def _unwatch(self) -> None:
        if self._pidfd is not None and self._loop is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
        self._pidfd = None

    def _exit_seen(self) -> None:
        """The pidfd turned readable: the process has exited."""
        self._unwatch()
        if self._popen is not None:
            self.returncode = self._popen.wait()  # already exited: reaps without blocking
        self._exited_mono = self._clock.monotonic()
        self._exited.set()
        if self.stop_reason is None:
            self.note(f"pid {self.pid} {exit_text(self.returncode)}")
            if self._on_exit is not None:
                try:
                    self._on_exit(self.returncode)
                except Exception:
                    _log.warning("exit callback of %s failed", self.label, exc_info=True)
        else:
            self.note(f"pid {self.pid} stopped ({exit_text(self.returncode)})")

    def state(self) -> tuple[bool, str]:
        """(alive?, ``pid 4242 running for 12s`` or ``pid 4242 exited with code 1 0.3s ago``)."""
        now = self._clock.monotonic()
        if self.alive:
            self._refresh_cmdline()
            return True, f"pid {self.pid} running for {int(now - self._started_mono)}s"
        ago = _seconds_text(now - (self._exited_mono or now))
        if self.stop_reason is not None:
            return False, f"pid {self.pid} stopped by paramedic ({self.stop_reason}) {ago} ago"
        return False, f"pid {self.pid} {exit_text(self.returncode)} {ago} ago"

    def _refresh_cmdline(self) -> None:
        """Keep the pid file's cmdline current (``sh -c`` execs its command after we read it)."""
        cmdline = proc_cmdline(self.pid)
        if (
            cmdline
            and cmdline != self.record.cmdline
            and is_same_process(self.pid, self.record.start_time)
        ):
            self.record.cmdline = cmdline
            self.record.save(self.record_path)

    # ------------------------------------------------------------ stop

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self._group:
                os.killpg(self.pid, sig)
            elif self.alive:
                os.kill(self.pid, sig)

    async def stop(self, sig: signal.Signals, grace: float, reason: str) -> None:
        """Send ``sig`` to the group, wait ``grace`` seconds for the exit, then SIGKILL."""
        if not self.alive:
            return
        self.stop_reason = reason
        self.note(f"stopping pid {self.pid} ({reason}): {sig.name}, SIGKILL after {grace:g}s")
        try:
            self._signal(sig)
            try:
                await asyncio.wait_for(self._exited.wait(), grace)
            except TimeoutError:
                self.note(f"pid {self.pid} still running {grace:g}s after {sig.name}: SIGKILL")
                self._signal(signal.SIGKILL)
                try:
                    await asyncio.wait_for(self._exited.wait(), KILL_WAIT_S)
                except TimeoutError:
                    raise ProviderError(
                        f"{self.label}: pid {self.pid} survived SIGKILL for {KILL_WAIT_S:g}s "
                        f"(stuck in the kernel?); look at it with: ps -o pid,stat,wchan {self.pid}"
                    ) from None
        except asyncio.CancelledError:
            self._signal(signal.SIGKILL)  # cancelled mid-stop: leave no half-stopped process
            raise
        # The leader is gone; what remains of its group goes with it.
        self._signal(signal.SIGKILL)

    def detach(self) -> None:
        """Stop watching and leave the process running (the next agent run adopts it)."""
        if self.alive:
            self._refresh_cmdline()
        self._unwatch()
        if self._popen is not None:
            self._popen.detached = True

    def note(self, line: str) -> None:
        """Append a paramedic line (time, what happened) to the process's log file."""
        stamp = self._clock.now().isoformat(timespec="milliseconds")
        try:
            with self.log_path.open("a") as log:
                log.write(f"--- paramedic {stamp} {self.label}: {line}\n")
        except OSError as exc:
            _log.warning("cannot write to %s: %s", self.log_path, exc)
