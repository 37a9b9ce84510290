"""Processes paramedic owns: started in their own session, adopted across agent runs,
their exit learned at once through a pidfd, stopped as a group.

One ``OwnedProcess`` is one OS process paramedic started: a component's primary instance or
a scale-out instance. Its pid file (``ProcessRecord``, JSON) keeps pid, start time and
session (an identity that survives a launcher's exec, see ``procfs``) with argv as a hint, so
a later agent run can tell that same process from a stranger that reused the pid. The pid file
is written before the fork with a token the child carries in ``PARAMEDIC_INSTANCE``: an agent
killed between the fork and the pid's record leaves a process the next run still finds.

Why ``subprocess.Popen`` and not asyncio's subprocess: asyncio's transport kills the child
when it is closed or garbage-collected, but an owned process must outlive the agent
(``close(stop_owned=False)``, an agent killed by SIGKILL). A pidfd registered with the event
loop reports the exit of a child and of an adopted process alike, at once and without polling.
Linux only (``/proc`` and ``pidfd_open``, Linux 5.3+).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shlex
import signal
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

from paramedic.clock import Clock
from paramedic.errors import ProviderError
from paramedic.providers.local.pidfile import INSTANCE_ENV, ProcessRecord, read_json, write_json
from paramedic.providers.local.procfs import (
    is_same_process,
    proc_cmdline,
    proc_start_time,
    proc_stat,
    seconds_since_start,
    stopped_in_group,
)
from paramedic.redact import redact

_log = logging.getLogger(__name__)
_REFRESH_AFTER_S = (0.05, 0.5, 2.0)
"""When the pid file's command line is read again after a spawn (a launcher execs soon)."""
KILL_WAIT_S = 5.0
"""How long a process may take to vanish after SIGKILL before we call it stuck."""

ExitCallback = Callable[[int | None], None]


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
        # The pid file exists before the process does: an agent killed between the fork and
        # the pid's record leaves a token the next run finds the process by (``found_again``).
        record = ProcessRecord(
            pid=0,
            start_time=0,
            argv=list(argv),
            cmdline=list(argv),
            port=port,
            started_at=clock.now().isoformat(timespec="milliseconds"),
            reason=reason,
            token=secrets.token_hex(8),
        )
        record.save(record_path)
        # Before the fork, so whatever the process prints comes after it in the log.
        write_note(log_path, clock, label, f"starting ({reason})")
        with log_path.open("ab") as log:
            popen = _Child(
                argv,
                cwd=cwd,
                env={**env, INSTANCE_ENV: record.token},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        # The child is not reaped before we wait for it, so /proc still shows it.
        stat = proc_stat(popen.pid)
        record.pid = popen.pid
        record.start_time = stat.start_time if stat is not None and not stat.gone else 0
        record.sid = stat.sid if stat is not None else popen.pid
        record.cmdline = proc_cmdline(popen.pid) or list(argv)
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
        # A launcher execs its daemon a moment later: keep the pid file's hint current soon.
        assert proc._loop is not None
        for delay in _REFRESH_AFTER_S:
            proc._loop.call_later(delay, proc._refresh_cmdline)
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
        if record is None:
            return None
        found = record.found_again()
        if not found and not record.is_running():
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
            proc._started_mono = clock.monotonic() - seconds_since_start(record.start_time)
        # Signal the group only when it is the session paramedic created for it.
        with contextlib.suppress(OSError):
            proc._group = os.getpgid(record.pid) == record.pid
        if found:
            record.save(record_path)
            proc.note(
                f"adopted pid {record.pid}, found by its {INSTANCE_ENV} token: a previous agent "
                "run started it and stopped before recording its pid"
            )
        else:
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
        if not self.alive:
            return  # its pid file may belong to a newer process now, or be gone on purpose
        cmdline = proc_cmdline(self.pid)
        if cmdline and cmdline != self.record.cmdline and self.record.is_running():
            self.record.cmdline = cmdline
            self.record.save(self.record_path)

    # ------------------------------------------------------------ stop

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self._group:
                os.killpg(self.pid, sig)
            elif self.alive:
                os.kill(self.pid, sig)

    async def stop(self, sig: signal.Signals, grace: float, reason: str) -> str | None:
        """Send ``sig`` to the group, wait ``grace`` seconds for the exit, then SIGKILL.

        SIGCONT follows ``sig`` at once, as systemd does: a stopped (SIGSTOPped, hung) process
        cannot act on ``sig`` until it runs again, so it would wait out the whole grace. Returns
        ``was stopped (state T); sent SIGCONT after SIGTERM`` when it was, else None.
        """
        if not self.alive:
            return None
        self.stop_reason = reason
        self.note(f"stopping pid {self.pid} ({reason}): {sig.name}, SIGKILL after {grace:g}s")
        stopped = self._stopped()
        said = f"was stopped (state T); sent SIGCONT after {sig.name}" if stopped else None
        try:
            self._signal(sig)
            self._signal(signal.SIGCONT)
            if said is not None:
                self.note(f"pid {self.pid} {said}")
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
        return said

    def _stopped(self) -> bool:
        """True when the process (or one of its group) is in state T and ignores signals."""
        if self._group:
            return bool(stopped_in_group(self.pid))
        stat = proc_stat(self.pid)
        return stat is not None and stat.stopped

    def detach(self) -> None:
        """Stop watching and leave the process running (the next agent run adopts it)."""
        if self.alive:
            self._refresh_cmdline()
        self._unwatch()
        if self._popen is not None:
            self._popen.detached = True

    def note(self, line: str) -> None:
        """Append a paramedic line (time, what happened) to the process's log file."""
        write_note(self.log_path, self._clock, self.label, line)


STARTING_NOTE = ": starting ("
"""In the note written just before a process is forked: its own output follows it."""


def write_note(log_path: Path, clock: Clock, label: str, line: str) -> None:
    """Append ``--- paramedic TIME LABEL: LINE`` to a process's log file."""
    stamp = clock.now().isoformat(timespec="milliseconds")
    try:
        with log_path.open("a") as log:
            log.write(f"--- paramedic {stamp} {label}: {line}\n")
    except OSError as exc:
        _log.warning("cannot write to %s: %s", log_path, exc)


__all__ = [
    "INSTANCE_ENV",
    "KILL_WAIT_S",
    "STARTING_NOTE",
    "OwnedProcess",
    "ProcessRecord",
    "exit_text",
    "is_same_process",
    "proc_cmdline",
    "proc_start_time",
    "read_json",
    "write_json",
]
