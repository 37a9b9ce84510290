"""The ``haproxy`` provider: an HAProxy paramedic runs, restarts and reloads, and
``repoint_backend``, through which other providers (a PostgreSQL failover) re-point clients.

Process: paramedic runs ``haproxy -W -db -f CONFIG -p PIDFILE`` as a process it owns
(``supervise.OwnedProcess``: its own session, exit seen at once through a pidfd, adopted by
the next agent run). Master-worker mode (``-W``) because the master's pid never changes
while SIGUSR2 makes it reload the config seamlessly: the new worker takes the listening
sockets over (``expose-fd listeners``) and the old one finishes its connections. ``-db``
keeps the master in the foreground even when the config says ``daemon``, so paramedic sees
its exit. The workers leave when the master dies, and a stop signals the whole group.

Safety: the config is checked with ``haproxy -c`` before a restart or a reload, so a broken
file never replaces a running HAProxy. ``repoint_backend`` never loses the operator's file:
the previous one is copied to ``<config>.bak-<UTC time>`` and the new one renamed into place.

Files, under the catalog's ``agent.run_dir``/<component>/: ``primary.pid`` (JSON record),
``haproxy.pid`` (unless ``spec.pidfile``), ``steps/<incident>.<step>.json``. Log:
``agent.log_dir``/<component>.log.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from paramedic.catalog.model import RestartService, Run
from paramedic.checks.haproxy import info_fields, runtime_api
from paramedic.clock import Clock, RealClock
from paramedic.errors import ProviderError
from paramedic.providers.base import (
    ActionContext,
    ActionResult,
    FaultContext,
    InjectedFault,
    ProviderInfo,
)
from paramedic.providers.local import haproxy_faults
from paramedic.providers.local.commands import ComponentCommand, last_lines, run_command, shown
from paramedic.providers.local.data_specs import HAPROXY, HaproxySpec
from paramedic.providers.local.step_marker import StepMarker, identity, same_process
from paramedic.providers.local.supervise import STARTING_NOTE, OwnedProcess, exit_text
from paramedic.redact import redact

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog, Strategy

_log = logging.getLogger(__name__)

STOP_GRACE_S = 5.0
"""Wait after SIGTERM before SIGKILL when stopping HAProxy."""
READY_WAIT_S = 10.0
"""Longest wait for a started HAProxy to answer on its stats socket, or a reload to finish."""
RUNTIME_WAIT_S = 5.0
"""Longest wait for one runtime API command."""
_POLL_S = 0.05
_SECTIONS = re.compile(
    r"^\s*(global|defaults|frontend|backend|listen|peers|resolvers|userlist|program|"
    r"http-errors|ring|mailers|cache|fcgi-app)(\s+(\S+))?"
)
_STATS_SOCKET = re.compile(r"^\s*stats\s+socket\s+(\S+)")


def _spec_of(catalog: Catalog, name: str) -> HaproxySpec:
    """The component's spec validated; ProviderError naming the field otherwise."""
    try:
        return HaproxySpec.model_validate(catalog.components[name].spec)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(["spec", *(str(part) for part in first["loc"])])
        raise ProviderError(
            f"component {name!r}: {where}: {first['msg']}; fix it in the catalog"
        ) from exc


def _binary(name: str, spec: HaproxySpec) -> str:
    """Path of the haproxy program (Debian puts it in /usr/sbin, often not on PATH)."""
    found = shutil.which(spec.binary) or shutil.which(spec.binary, path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise ProviderError(
            f"component {name!r}: spec.binary: program {spec.binary!r} not found; "
            "apt-get install haproxy, or give its absolute path"
        )
    return found


def _alerts(output: str) -> str:
    """The ``[ALERT]`` lines of haproxy's output, shortened, else its last lines."""
    alerts = [line.split(" : ", 1)[-1].strip() for line in output.splitlines() if "[ALERT]" in line]
    return redact(" | ".join(alerts[-3:] or last_lines(output, 3)) or "no output")


async def check_config(catalog: Catalog, name: str, config: Path) -> None:
    """``haproxy -c -f config`` (run in the catalog's folder); ProviderError with its alerts."""
    spec = _spec_of(catalog, name)
    argv = [_binary(name, spec), "-c", "-f", str(config)]
    try:
        code, output = await run_command(argv, cwd=catalog.base_dir, env=os.environ)
    except OSError as exc:
        raise ProviderError(f"component {name!r}: cannot run {argv[0]!r}: {exc.strerror}") from exc
    if code != 0:
        raise ProviderError(
            f"component {name!r}: `{shown(argv)}` found the config invalid: {_alerts(output)}"
        )


class HaproxyProvider:
    """Runs one HAProxy in master-worker mode: start or adopt, restart, reload, run."""

    info: ProviderInfo = HAPROXY
    start_if_down: bool = True
    """False for an HAProxy taken over from another agent: adopt it, never start it silently."""

    def __init__(self, *, catalog: Catalog, name: str, clock: Clock | None = None) -> None:
        self.catalog = catalog
        self.name = name
        self.spec = _spec_of(catalog, name)
        self.config = catalog.resolve_path(self.spec.config)
        self.stats_socket = str(catalog.resolve_path(self.spec.stats_socket))
        self.on_exit: Callable[[str, int | None], None] | None = None
        """Called at once with (component, exit code) when HAProxy's master exits on its own."""
        self._clock = clock or RealClock()
        self._run_dir = catalog.resolve_path(catalog.agent.run_dir) / name
        self._log_path = catalog.resolve_path(catalog.agent.log_dir) / f"{name}.log"
        self._pidfile = (
            catalog.resolve_path(self.spec.pidfile)
            if self.spec.pidfile
            else self._run_dir / "haproxy.pid"
        )
        self._master: OwnedProcess | None = None
        self._lock = asyncio.Lock()

    # ------------------------------------------------------------ what the others read

    @property
    def pid(self) -> int | None:
        """Pid of HAProxy's master process while it runs."""
        return self._master.pid if self._master is not None and self._master.alive else None

    # ------------------------------------------------------------ agent lifecycle

    async def start(self) -> None:
        """Adopt the HAProxy a previous agent run left running, else start it (unless
        ``start_if_down`` is False: taken over from another agent)."""
        async with self._lock:
            if self.pid is not None:
                return
            self._warn_undeclared_socket()
            adopted = OwnedProcess.adopt(
                label=self.name,
                record_path=self._record_path,
                log_path=self._log_path,
                clock=self._clock,
                on_exit=self._master_exited,
            )
            if adopted is not None and adopted.record.argv == self._argv():
                self._master = adopted
                return
            if adopted is not None:
                await adopted.stop(signal.SIGTERM, STOP_GRACE_S, "its spec changed in the catalog")
            elif not self.start_if_down:
                return  # taken over: a stopped HAProxy is for its check and recovery to find
            self._master = self._spawn("agent start")

    async def close(self, stop_owned: bool) -> None:
        """Stop HAProxy (``stop_owned``) or leave it running for the next agent run."""
        async with self._lock:
            master, self._master = self._master, None
            if master is None:
                return
            if stop_owned:
                await master.stop(signal.SIGTERM, STOP_GRACE_S, "agent stopping")
            else:
                master.detach()

    # ------------------------------------------------------------ faults (drills)

    async def inject_fault(self, fault: str, ctx: FaultContext) -> InjectedFault:
        """Inject ``fault`` (kill: SIGKILL the master); see ``haproxy_faults``."""
        return await haproxy_faults.inject(self, fault, ctx)

    async def undo_fault(self, injected: InjectedFault, ctx: FaultContext) -> str:
        """Nothing to take back: the recovery starts HAProxy again."""
        return await haproxy_faults.undo(self, injected, ctx)

    # ------------------------------------------------------------ strategies

    def describe(self, step: Strategy) -> str:
        """One sentence saying what ``carry_out(step)`` would do."""
        if isinstance(step, RestartService):
            return (
                f"check {self.config} with `haproxy -c`, stop {self.name} (SIGTERM to master and "
                f"workers, SIGKILL after {STOP_GRACE_S:g}s) and start "
                f"`{shown(self._argv(strict=False))}` again"
            )
        if isinstance(step, Run):
            if step.command is None:
                return f"nothing: the haproxy provider cannot call function {step.function!r}"
            return (
                f"run `{shown(self._run_argv(step))}` in {self.catalog.base_dir} with "
                "PARAMEDIC_INCIDENT, PARAMEDIC_COMPONENT, HAPROXY_CONFIG and "
                "HAPROXY_STATS_SOCKET set"
            )
        return f"nothing: the haproxy provider cannot carry out {step.strategy}"

    async def carry_out(self, step: Strategy, ctx: ActionContext) -> ActionResult:
        """Carry out one strategy step; a repeat call for the same incident and step resumes it."""
        if ctx.dry_run:
            return ActionResult(output=self.describe(step), detail={"dry_run": True})
        if not isinstance(step, RestartService | Run):
            raise ProviderError(
                f"component {self.name!r}: the haproxy provider cannot carry out "
                f"{step.strategy}; use restart_service or run"
            )
        marker = StepMarker.of(self._run_dir, ctx)
        repeated = marker.finished(ctx)
        if repeated is not None:
            return repeated
        if isinstance(step, Run):
            return marker.finish(await self._run(step, ctx), started=[])
        async with self._lock:
            return await self._restart(ctx, marker)

    async def reload(self) -> str:
        """Reload the config without dropping connections (SIGUSR2 to the master), checked first.

        Returns once a new worker answers on the stats socket; ProviderError when HAProxy is
        not running, the config is invalid (the running HAProxy is left alone), or no new
        worker appears within ``READY_WAIT_S``.
        """
        async with self._lock:
            master = self._master
            if master is None or not master.alive:
                raise ProviderError(
                    f"component {self.name!r}: haproxy is not running, nothing to reload; "
                    "use restart_service"
                )
            await check_config(self.catalog, self.name, self.config)
            before = await self._worker_pid()
            master.note(f"reloading {self.config} (SIGUSR2 to pid {master.pid})")
            os.kill(master.pid, signal.SIGUSR2)
            after = await self._new_worker(before, master)  # the master keeps its pid and argv
        return f"reloaded {self.config} in {self.name} (master pid {master.pid}): worker {after}"

    # ------------------------------------------------------------ restart and run

    async def _restart(self, ctx: ActionContext, marker: StepMarker) -> ActionResult:
        """Stop HAProxy (if it runs) and start it again, once its config is known to be valid."""
        reason = f"restart_service for incident {ctx.incident_id}"
        current = self._master if self._master is not None and self._master.alive else None
        if (
            marker.phase == "spawning"
            and current is not None
            and not same_process(marker.data.get("before"), current)
        ):  # the agent stopped after starting it: that start finishes this step
            await self._until_ready(current)
            return self._done(marker, f"restart_service of {self.name}: pid {current.pid} started")
        await check_config(self.catalog, self.name, self.config)
        if marker.phase in (None, "done"):
            marker.advance("begun", before=identity(current))
        parts = [f"restart_service of {self.name}:"]
        if current is not None:
            said = await current.stop(signal.SIGTERM, STOP_GRACE_S, reason)
            if said is not None:  # hung by SIGSTOP: SIGCONT let it act on SIGTERM at once
                parts.append(f"pid {current.pid} {said};")
            parts.append(f"pid {current.pid} stopped ({exit_text(current.returncode)});")
        elif self._master is not None:
            parts.append(f"pid {self._master.pid} had {exit_text(self._master.returncode)};")
        marker.advance("spawning")
        self._master = self._spawn(reason)
        await self._until_ready(self._master)
        parts.append(f"pid {self._master.pid} started, its stats socket answers")
        return self._done(marker, " ".join(parts))

    def _done(self, marker: StepMarker, output: str) -> ActionResult:
        assert self._master is not None
        result = ActionResult(output=output, detail={"pid": self._master.pid})
        return marker.finish(result, [identity(self._master) or {}])

    async def _run(self, step: Run, ctx: ActionContext) -> ActionResult:
        """The user's command, with the incident, the component and HAProxy's paths in its env."""
        if step.command is None:
            raise ProviderError(
                f"component {self.name!r}: recovery step {ctx.step_index}: the haproxy provider "
                f"runs commands, not functions ({step.function!r}); give command instead"
            )
        command = ComponentCommand(
            self.name, self._run_argv(step), f"recovery[{ctx.step_index}].command", "run"
        )
        env = dict(
            os.environ,
            PARAMEDIC_INCIDENT=ctx.incident_id,
            PARAMEDIC_COMPONENT=self.name,
            HAPROXY_CONFIG=str(self.config),
            HAPROXY_STATS_SOCKET=self.stats_socket,
        )
        output = await command.run(cwd=self.catalog.base_dir, env=env)
        return ActionResult(output=output, detail={"exit_code": 0})

    @staticmethod
    def _run_argv(step: Run) -> list[str]:
        command = step.command or []
        return ["/bin/sh", "-c", " ".join(command)] if step.shell else list(command)

    # ------------------------------------------------------------ the process

    def _argv(self, strict: bool = True) -> list[str]:
        """haproxy's argv; unless ``strict``, a missing program is shown as spec.binary."""
        try:
            binary = _binary(self.name, self.spec)
        except ProviderError:
            if strict:
                raise
            binary = self.spec.binary
        return [binary, "-W", "-db", "-f", str(self.config), "-p", str(self._pidfile)]

    def _spawn(self, reason: str) -> OwnedProcess:
        argv = self._argv()
        try:
            return OwnedProcess.spawn(
                label=self.name,
                argv=argv,
                cwd=self.catalog.base_dir,
                env=os.environ,
                port=None,
                reason=reason,
                record_path=self._record_path,
                log_path=self._log_path,
                clock=self._clock,
                on_exit=self._master_exited,
            )
        except OSError as exc:
            raise ProviderError(
                f"component {self.name!r}: cannot start {argv[0]!r}: {exc.strerror}; "
                "check spec.binary and its permissions"
            ) from exc

    def _master_exited(self, returncode: int | None) -> None:
        """HAProxy's master exited on its own: tell the agent at once."""
        if self.on_exit is None:
            return
        try:
            self.on_exit(self.name, returncode)
        except Exception:
            _log.warning("on_exit callback for component %r failed", self.name, exc_info=True)

    async def _worker_pid(self) -> str | None:
        """The pid of the worker answering on the stats socket; None when nothing answers."""
        try:
            async with asyncio.timeout(RUNTIME_WAIT_S):
                answer = await runtime_api(self.stats_socket, "show info")
        except OSError:  # TimeoutError included
            return None
        return info_fields(answer).get("Pid")

    async def _until_ready(self, master: OwnedProcess) -> None:
        """Wait until the stats socket answers; ProviderError when HAProxy exits or never does."""
        await self._new_worker(None, master)

    async def _new_worker(self, before: str | None, master: OwnedProcess) -> str:
        """Wait for a worker other than ``before`` to answer on the stats socket; its pid."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_WAIT_S
        while master.alive:
            worker = await self._worker_pid()
            if worker is not None and worker != before:
                return worker
            if loop.time() > deadline:
                raise ProviderError(
                    f"component {self.name!r}: haproxy pid {master.pid} runs but no new worker "
                    f"answered on {self.stats_socket} within {READY_WAIT_S:g}s; see "
                    f"{self._log_path} and the `stats socket` line of {self.config}"
                )
            await asyncio.sleep(_POLL_S)
        raise ProviderError(
            f"component {self.name!r}: haproxy pid {master.pid} {exit_text(master.returncode)} "
            f"while starting: {self._log_tail(master.pid)}; see {self._log_path}"
        )

    def _log_tail(self, pid: int) -> str:
        """What haproxy pid ``pid`` said in the log: its alerts, else its last lines."""
        try:
            text = self._log_path.read_text(errors="replace")
        except OSError:
            return "no log"
        started = text.rfind(f": started pid {pid} ")
        # Its output may precede the "started" note: read from the note written before the fork.
        forked = text.rfind(STARTING_NOTE, 0, started) if started >= 0 else -1
        since = forked if forked >= 0 else started
        lines = text[since:].splitlines()[1:] if since >= 0 else text.splitlines()
        return _alerts("\n".join(line for line in lines if not line.startswith("--- ")))

    def _warn_undeclared_socket(self) -> None:
        """Log a warning when the config does not declare ``spec.stats_socket``."""
        try:
            text = self.config.read_text()
        except OSError as exc:
            _log.warning("component %r: cannot read %s: %s", self.name, self.config, exc)
            return
        declared = [m[1] for line in text.splitlines() if (m := _STATS_SOCKET.match(line))]
        if self.stats_socket not in {str(self.catalog.resolve_path(p)) for p in declared}:
            _log.warning(
                "component %r: %s declares no `stats socket %s mode 600 level admin expose-fd "
                "listeners`: checks, reloads and repoint_backend need it",
                self.name,
                self.config,
                self.stats_socket,
            )

    @property
    def _record_path(self) -> Path:
        return self._run_dir / "primary.pid"


__all__ = ["HaproxyProvider", "check_config"]
