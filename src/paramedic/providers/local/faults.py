"""What the local providers' faults share: checking the name, signalling a process by
identity, moving data aside for a drill, and a port squatter.

A drill injects a fault from its own process, not from the agent that owns the component:
everything here identifies processes by pid *and* start time (``/proc``), so a later undo
never signals a stranger that reused the pid.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from paramedic.errors import ProviderError
from paramedic.providers.base import ProviderInfo
from paramedic.providers.local.step_marker import safe_name
from paramedic.providers.local.supervise import is_same_process, proc_start_time

SQUAT_WAIT_S = 10.0
"""How long the squatter tries to bind the port freed by the killed process."""
GONE_WAIT_S = 5.0
"""How long a process may take to vanish after SIGKILL."""

_SQUATTER = """\
import os, socket, sys, time
host, port, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
deadline = time.monotonic() + wait
while True:
    try:
        sock.bind((host, port))
        break
    except OSError as exc:
        if time.monotonic() > deadline:
            sys.exit(f"cannot bind {host}:{port}: {exc.strerror}")
        time.sleep(0.002)
sock.listen(64)
pid = os.fork()
if pid:
    print(pid, flush=True)
    os._exit(0)
null = os.open(os.devnull, os.O_RDWR)
for fd in (0, 1, 2):
    os.dup2(null, fd)
while True:
    conn, _ = sock.accept()
    try:
        conn.sendall(b"paramedic drill: this port is squatted, not the service\\r\\n")
    except OSError:
        pass
    conn.close()
"""


def check_fault(info: ProviderInfo, fault: str) -> None:
    """ProviderError naming the faults ``info`` offers when ``fault`` is not one of them."""
    if fault not in info.faults:
        offered = ", ".join(info.faults)
        raise ProviderError(
            f"provider {info.name!r} offers the faults {offered}; {fault!r} is not one of them"
        )


def identity_of(pid: int) -> dict[str, int] | None:
    """``{"pid", "start_time"}`` of a live ``pid``; None when it is gone."""
    start = proc_start_time(pid)
    return None if start is None else {"pid": pid, "start_time": start}


def send_signal(pid: int, start_time: int, sig: signal.Signals, *, group: bool) -> bool:
    """Send ``sig`` to ``pid`` (its whole group with ``group``) if it is still that process.

    True when it was delivered; False when the process is gone or the pid is another's now.
    """
    if not is_same_process(pid, start_time):
        return False
    try:
        if group and os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def process_state(pid: int) -> str | None:
    """The state letter of ``pid`` in /proc (``R``, ``S``, ``T``...); None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()[0]


async def wait_gone(pid: int, start_time: int, within: float = GONE_WAIT_S) -> bool:
    """Wait until that process has exited (a zombie counts); False when it outlived ``within``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while is_same_process(pid, start_time):
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


def drill_aside(path: Path, drill_id: str, suffix: str = "") -> Path:
    """A free name beside ``path`` for a drill: ``<path>.drill-<drill id><suffix>`` (``.2``...)."""
    base = path.with_name(f"{path.name}.drill-{safe_name(drill_id)}{suffix}")
    aside, n = base, 2
    while aside.exists():
        aside, n = base.with_name(f"{base.name}.{n}"), n + 1
    return aside


class PortSquatter:
    """A small process that holds a port: it accepts and answers a line that is not the service.

    ``begin`` starts it trying to bind before the service is killed, so it wins the race
    against a recovery that restarts the service at once; ``held`` waits until it holds the port.
    """

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.port = port
        self.host = host
        self._popen: subprocess.Popen[str] | None = None

    def begin(self) -> None:
        """Start the squatter; it binds as soon as the port is free (within ``SQUAT_WAIT_S``)."""
        argv = [sys.executable, "-c", _SQUATTER, self.host, str(self.port), str(SQUAT_WAIT_S)]
        self._popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    async def held(self) -> dict[str, int]:
        """Wait until it holds the port; its identity (``pid``, ``start_time``), for the undo."""
        assert self._popen is not None
        popen = self._popen
        try:
            out, err = await asyncio.to_thread(popen.communicate, None, SQUAT_WAIT_S + 5)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.communicate()
            raise ProviderError(
                f"the port squatter did not take port {self.port} in time; nothing holds it now"
            ) from None
        finally:
            if popen.returncode is None:
                popen.kill()
                popen.wait()
        if popen.returncode != 0 or not out.strip().isdigit():
            why = err.strip().splitlines()[-1] if err.strip() else f"exit code {popen.returncode}"
            raise ProviderError(f"the port squatter could not hold port {self.port}: {why}")
        pid = int(out.strip())
        found = identity_of(pid)
        if found is None:
            raise ProviderError(f"the port squatter (pid {pid}) on port {self.port} died at once")
        return found

    def abandon(self) -> None:
        """Kill a squatter that was begun but is not wanted (the kill failed)."""
        if self._popen is not None and self._popen.poll() is None:
            self._popen.kill()
        if self._popen is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._popen.communicate(timeout=GONE_WAIT_S)


async def end_squatter(undo: dict[str, object]) -> str:
    """Kill the squatter ``undo`` names if it still runs; says what was done (idempotent)."""
    pid, start = undo.get("squatter_pid"), undo.get("squatter_start_time")
    port = undo.get("port")
    if not isinstance(pid, int) or not isinstance(start, int):
        return "no port squatter to stop"
    if not send_signal(pid, start, signal.SIGKILL, group=False):
        return f"port squatter pid {pid} already gone; port {port} not held by it"
    if not await wait_gone(pid, start):
        raise ProviderError(
            f"port squatter pid {pid} survived SIGKILL; look at it with: ps -o pid,stat {pid}"
        )
    return f"port squatter pid {pid} killed; port {port} freed"
