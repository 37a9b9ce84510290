"""The ``process`` provider: a local process paramedic owns, or one it drives through commands.

Owned (``spec.command``): the agent starts the process, or adopts the one a previous agent run
left running; it learns of its exit at once (see ``supervise``), restarts it, replaces it with
a fresh instance, scales it out on more ports. Driven (``restart_command``/``start_command``):
recovery runs those commands.

Idempotency: each ``(incident, step)`` keeps a marker in the run dir recording how far its
action got (``begun`` → ``spawning`` → ``done``, with the pids it started). A repeat call
after an agent crash returns the finished result while those processes live, and resumes an
unfinished one instead of acting twice.

Files, under the catalog's ``agent.run_dir``/<component>/: ``primary.pid`` and
``port-<N>.pid`` (JSON records), ``state.json`` (``starts``), ``steps/<incident>.<step>.json``.
Logs: ``agent.log_dir``/<component>.log, and <component>.<port>.log per scale-out instance.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from paramedic.catalog.model import ReplaceInstance, RestartService, Run, ScaleOut
from paramedic.clock import Clock, RealClock
from paramedic.errors import ProviderError
from paramedic.lock import waited_lock
from paramedic.providers.base import (
    ActionContext,
    ActionResult,
    FaultContext,
    InjectedFault,
    ProviderInfo,
)
from paramedic.providers.local import process_faults
from paramedic.providers.local.commands import ComponentCommand, check_work_dir, shown
from paramedic.providers.local.process_spec import INFO, ProcessSpec
from paramedic.providers.local.step_marker import (
    StepMarker,
    identity,
    same_process,
    still_running,
)
from paramedic.providers.local.supervise import OwnedProcess, exit_text, read_json, write_json
from paramedic.providers.local.workdir import checked_template, copy_template, move_aside

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog, Strategy

_log = logging.getLogger(__name__)


class ProcessProvider:
    """Runs one component's process (owned) or drives it through commands (not owned)."""

    info: ProviderInfo = INFO
    start_if_down: bool = True
    """False for a component taken over from another agent: adopt its process, never start
    it silently; a dead one is then a failure its check detects and its recovery restarts."""

    def __init__(self, *, catalog: Catalog, name: str, clock: Clock | None = None) -> None:
        self.catalog = catalog
        self.name = name
        try:
            self.spec = ProcessSpec.model_validate(catalog.components[name].spec)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(["spec", *(str(part) for part in first["loc"])])
            message = first["msg"].removeprefix("Value error, ")
            raise ProviderError(
                f"component {name!r}: {where}: {message}; fix it in the catalog"
            ) from exc
        try:
            self._stop_signal = signal.Signals[self.spec.stop_signal]
        except KeyError:
            raise ProviderError(
                f"component {name!r}: spec.stop_signal {self.spec.stop_signal!r} is not a signal;"
                " use one like SIGTERM or SIGINT"
            ) from None
        self.on_exit: Callable[[str, int | None], None] | None = None
        """Called at once with (component, exit code) when the owned process exits on its own."""
        self._clock = clock or RealClock()
        self._run_dir = catalog.resolve_path(catalog.agent.run_dir) / name
        self._log_dir = catalog.resolve_path(catalog.agent.log_dir)
        self._primary: OwnedProcess | None = None
        self._extras: dict[int, OwnedProcess] = {}
        self._lock = asyncio.Lock()
        self._starts = int(read_json(self._state_path).get("starts", 0))

    # ------------------------------------------------------------ what the others read

    @property
    def owned(self) -> bool:
        """True when paramedic runs the process itself (``spec.command``)."""
        return self.spec.command is not None

    @property
    def start_count(self) -> int:
        """How many times paramedic started the primary process, across agent runs."""
        return self._starts

    @property
    def pid(self) -> int | None:
        """Pid of the primary process while it runs."""
        return self._primary.pid if self._primary is not None and self._primary.alive else None

    @property
    def started_at(self) -> datetime | None:
        """When the running primary process was started (by this agent run or an earlier one)."""
        if self._primary is None or not self._primary.alive:
            return None
        try:
            return datetime.fromisoformat(self._primary.record.started_at)
        except ValueError:
            return None

    @property
    def instance_ports(self) -> list[int]:
        """Ports of the running scale-out instances."""
        return sorted(port for port, proc in self._extras.items() if proc.alive)

    def process_state(self) -> tuple[bool, str]:
        """(alive?, detail): ``pid 4242 running for 12s``, ``pid 4242 exited with code 1 0.3s ago``.

        The ``process`` health check reads it (the ``ProcessProbe`` protocol).
        """
        if not self.owned:
            return False, f"component {self.name!r} has no spec.command: paramedic does not run it"
        if self._primary is None:
            return False, f"component {self.name!r}: no process started or adopted yet"
        return self._primary.state()

    # ------------------------------------------------------------ agent lifecycle

    async def start(self) -> None:
        """Adopt the process (and scale-out instances) a previous agent run left, else start it."""
        if not self.owned:
            return
        # Agents of one host sharing this run dir adopt or start one at a time: the second
        # finds the first one's pid file and adopts (a start never races another agent's).
        async with self._lock, waited_lock(self._run_dir / "start.lock"):
            for path in sorted(self._run_dir.glob("port-*.pid")):
                port = int(path.stem.removeprefix("port-"))
                if port in self.instance_ports:
                    continue
                extra = OwnedProcess.adopt(
                    label=f"{self.name}:{port}",
                    record_path=path,
                    log_path=self._log_dir / f"{self.name}.{port}.log",
                    clock=self._clock,
                    on_exit=None,
                )
                if extra is None:
                    path.unlink(missing_ok=True)
                else:
                    self._extras[port] = extra
            if self._primary is not None and self._primary.alive:
                return
            adopted = OwnedProcess.adopt(
                label=self.name,
                record_path=self._primary_path,
                log_path=self._log_path,
                clock=self._clock,
                on_exit=self._primary_exited,
            )
            if adopted is not None and adopted.record.argv == self._argv():
                self._primary = adopted
                return
            if adopted is not None:
                await self._stop(adopted, "its command changed in the catalog")
                self._primary = self._spawn_primary("agent start; command changed in the catalog")
            elif self.start_if_down:
                self._primary = self._spawn_primary("agent start")

    async def close(self, stop_owned: bool) -> None:
        """Stop the owned processes (``stop_owned``) or leave them running for the next run."""
        async with self._lock:
            extras = list(self._extras.values())
            everyone = [p for p in (self._primary, *extras) if p is not None]
            if not stop_owned:
                for proc in everyone:
                    proc.detach()
                self._primary = None  # no longer ours: the next agent run adopts them
                self._extras.clear()
                return
            results = await asyncio.gather(
                *(self._stop(proc, "agent stopping") for proc in everyone), return_exceptions=True
            )
            for proc in extras:
                proc.record_path.unlink(missing_ok=True)
            self._extras.clear()
            for result in results:
                if isinstance(result, BaseException):
                    raise result

    # ------------------------------------------------------------ strategies

    def describe(self, step: Strategy) -> str:
        """One sentence saying what ``carry_out(step)`` would do."""
        spec = self.spec
        grace = f"{spec.stop_grace.total_seconds():g}s"
        stop = f"stop {self.name} ({spec.stop_signal}, then SIGKILL after {grace})"
        if isinstance(step, RestartService):
            if self.owned:
                return f"{stop} and start `{shown(self._argv())}` again"
            if spec.restart_command is not None:
                return f"run `{shown(spec.restart_command)}`"
            before = f"run `{shown(spec.stop_command)}`, then " if spec.stop_command else "run "
            return f"{before}`{shown(spec.start_command or [])}`"
        if isinstance(step, ReplaceInstance):
            if spec.template_dir is None:
                return f"{stop} and start a fresh instance of `{shown(self._argv())}`"
            cwd = self._cwd()
            template = self.catalog.resolve_path(spec.template_dir)
            if cwd is None:
                return f"nothing: resetting from template_dir {template} needs spec.cwd"
            return (
                f"{stop}, move {cwd} aside to {cwd}.replaced-<incident id>, copy {template} "
                "into its place, start a fresh instance"
            )
        if isinstance(step, ScaleOut):
            first, last = spec.port_range or (0, 0)
            return (
                f"start {step.count} more instance(s) of {self.name} on free ports from "
                f"{first}-{last} (PORT set for each)"
            )
        if isinstance(step, Run):
            if step.command is None:
                return f"nothing: the process provider cannot call function {step.function!r}"
            return (
                f"run `{shown(self._run_argv(step))}` in {self.catalog.base_dir} "
                "with PARAMEDIC_INCIDENT and PARAMEDIC_COMPONENT set"
            )
        return f"nothing: the process provider cannot carry out {step.strategy}"

    async def carry_out(self, step: Strategy, ctx: ActionContext) -> ActionResult:
        """Carry out one strategy step; a repeat call for the same incident and step resumes it."""
        if ctx.dry_run:
            return ActionResult(output=self.describe(step), detail={"dry_run": True})
        marker = StepMarker.of(self._run_dir, ctx)
        repeated = marker.finished(ctx, ours=self._holds)
        if repeated is not None:
            return repeated
        if isinstance(step, Run):
            return marker.finish(await self._run(step, ctx), started=[])
        if isinstance(step, RestartService) and not self.owned:
            return marker.finish(await self._drive_restart(), started=[])
        if not isinstance(step, RestartService | ReplaceInstance | ScaleOut):
            raise ProviderError(
                f"component {self.name!r}: the process provider cannot carry out {step.strategy}; "
                f"use one of restart_service, replace_instance, scale_out, run"
            )
        if not self.owned:
            raise ProviderError(
                f"component {self.name!r}: {step.strategy} needs spec.command (a process "
                "paramedic runs itself); give command, or use restart_service with restart_command"
            )
        async with self._lock:
            if isinstance(step, ScaleOut):
                result = await self._scale_out(step, ctx, marker)
            else:
                result = await self._renew(step, ctx, marker)
        return result

    async def _renew(
        self, step: RestartService | ReplaceInstance, ctx: ActionContext, marker: StepMarker
    ) -> ActionResult:
        """restart_service and replace_instance of an owned process: stop it, start a new one."""
        reason = f"{step.strategy} for incident {ctx.incident_id}"
        current = self._primary if self._primary is not None and self._primary.alive else None
        started_before = current is not None and not same_process(
            marker.data.get("before"), current
        )
        if marker.phase == "spawning" and current is not None and started_before:
            # The agent stopped after starting it: that start finishes this step.
            output = f"{step.strategy} of {self.name}: pid {current.pid} started"
            return self._done(marker, output, current, None)
        reset = None
        if isinstance(step, ReplaceInstance) and self.spec.template_dir is not None:
            reset = self._template()  # checked before anything is stopped
        elif marker.phase in (None, "begun") and started_before and self._fresh(current, ctx):
            # The agent died before this step started its process; the next agent run's start
            # did it instead. Stopping that fresh process to start another would start twice.
            assert current is not None
            output = (
                f"{step.strategy} of {self.name}: pid {current.pid} was started at agent start "
                "after the failure; not restarted"
            )
            return self._done(marker, output, current, None)
        if marker.phase in (None, "done"):
            marker.advance("begun", before=identity(current), aside=None)
        previous = None
        if current is not None:
            said = await self._stop(current, reason)
            previous = f"pid {current.pid} stopped ({exit_text(current.returncode)})"
            if said is not None:  # it was hung by SIGSTOP: say why the stop was quick
                previous = f"pid {current.pid} {said}; it {exit_text(current.returncode)}"
        elif self._primary is not None:
            previous = f"pid {self._primary.pid} had {exit_text(self._primary.returncode)}"
        aside = None
        if reset is not None:
            cwd, template = reset
            if marker.phase == "begun":
                move_aside(cwd, ctx.incident_id, marker)
                await asyncio.to_thread(copy_template, template, cwd)
                marker.advance("reset")
            recorded = marker.data.get("aside")
            aside = Path(recorded) if isinstance(recorded, str) else None
        marker.advance("spawning")
        self._primary = self._spawn_primary(reason)
        parts = [f"{step.strategy} of {self.name}:"]
        if previous is not None:
            parts.append(f"{previous};")
        if aside is not None:
            parts.append(f"old working directory moved aside to {aside};")
        parts.append(f"pid {self._primary.pid} started")
        return self._done(marker, " ".join(parts), self._primary, aside)

    @staticmethod
    def _fresh(proc: OwnedProcess | None, ctx: ActionContext) -> bool:
        """True when ``proc`` was started at agent start after the incident's first failure."""
        if (
            proc is None
            or ctx.failed_at is None
            or not proc.record.reason.startswith("agent start")
        ):
            return False
        try:
            started = datetime.fromisoformat(proc.record.started_at)
        except ValueError:
            return False
        failed = ctx.failed_at
        if started.tzinfo is None or failed.tzinfo is None:
            started, failed = started.replace(tzinfo=None), failed.replace(tzinfo=None)
        return started >= failed

    def _holds(self, recorded: Any) -> bool:
        """True when ``recorded`` is a process this provider holds now (primary or instance)."""
        held = [self._primary, *self._extras.values()]
        return any(same_process(recorded, proc) for proc in held)

    def _done(
        self, marker: StepMarker, output: str, proc: OwnedProcess, aside: Path | None
    ) -> ActionResult:
        detail: dict[str, Any] = {"pid": proc.pid, "start_count": self._starts}
        if aside is not None:
            detail["moved_aside"] = str(aside)
        return marker.finish(ActionResult(output=output, detail=detail), [identity(proc) or {}])

    def _template(self) -> tuple[Path, Path]:
        """(cwd, template) of a replace_instance that resets the working directory, checked."""
        assert self.spec.template_dir is not None
        template = self.catalog.resolve_path(self.spec.template_dir)
        return checked_template(self.name, self._cwd(), template)

    async def _scale_out(
        self, step: ScaleOut, ctx: ActionContext, marker: StepMarker
    ) -> ActionResult:
        """Start ``step.count`` more instances on free ports of ``spec.port_range``."""
        if self.spec.port_range is None:
            raise ProviderError(
                f"component {self.name!r}: scale_out needs spec.port_range, "
                "e.g. port_range: 8081-8089"
            )
        started = [i for i in marker.data.get("pids") or [] if still_running(i)]
        ports = self._free_ports(step.count - len(started))
        marker.advance("spawning", pids=started)
        reason = f"scale_out for incident {ctx.incident_id}"
        for port in ports:
            proc = self._spawn(
                label=f"{self.name}:{port}",
                port=port,
                reason=reason,
                record_path=self._run_dir / f"port-{port}.pid",
                log_path=self._log_dir / f"{self.name}.{port}.log",
                on_exit=None,
            )
            self._extras[port] = proc
            started.append({**(identity(proc) or {}), "port": port})
            marker.advance("spawning", pids=started)
        where = ", ".join(f"pid {i['pid']} on port {i['port']}" for i in started)
        output = f"scale_out of {self.name}: {len(started)} more instance(s): {where}"
        detail = {"instances": [{"pid": i["pid"], "port": i["port"]} for i in started]}
        return marker.finish(ActionResult(output=output, detail=detail), started)

    def _free_ports(self, count: int) -> list[int]:
        assert self.spec.port_range is not None
        first, last = self.spec.port_range
        taken = {self.spec.port, *self.instance_ports}
        free: list[int] = []
        for port in range(first, last + 1):
            if len(free) == count:
                break
            if port not in taken and _port_free(port):
                free.append(port)
        if len(free) < count:
            raise ProviderError(
                f"component {self.name!r}: spec.port_range {first}-{last} has {len(free)} free "
                f"port(s), {count} needed for scale_out; widen port_range"
            )
        return free

    async def _drive_restart(self) -> ActionResult:
        """restart_service of a process paramedic does not own: restart_command, or stop+start."""
        spec = self.spec
        named = (
            [("restart_command", spec.restart_command)]
            if spec.restart_command is not None
            else [("stop_command", spec.stop_command), ("start_command", spec.start_command)]
        )
        parts: list[str] = []
        for field, argv in named:
            if argv is not None:
                command = ComponentCommand(self.name, argv, f"spec.{field}", f"spec.{field}")
                output = await command.run(cwd=self._work_dir(), env=self._env(spec.port))
                parts.append(f"$ {shown(argv)}\n{output}")
        return ActionResult(output="\n".join(parts).strip(), detail={"owned": False})

    async def _run(self, step: Run, ctx: ActionContext) -> ActionResult:
        """The user's command, with the incident and component in its environment."""
        if step.command is None:
            raise ProviderError(
                f"component {self.name!r}: recovery step {ctx.step_index}: the process provider "
                f"runs commands, not functions ({step.function!r}); give command instead"
            )
        command = ComponentCommand(
            self.name, self._run_argv(step), f"recovery[{ctx.step_index}].command", "run"
        )
        env = dict(os.environ, PARAMEDIC_INCIDENT=ctx.incident_id, PARAMEDIC_COMPONENT=self.name)
        output = await command.run(cwd=self.catalog.base_dir, env=env)
        return ActionResult(output=output, detail={"exit_code": 0})

    # ------------------------------------------------------------ faults (drills)

    async def inject_fault(self, fault: str, ctx: FaultContext) -> InjectedFault:
        """Inject ``fault`` (kill, hang, exit, port-squat) into the primary; see ``process_faults``."""
        return await process_faults.inject(self, fault, ctx)

    async def undo_fault(self, injected: InjectedFault, ctx: FaultContext) -> str:
        """Resume a hung process, free a squatted port; idempotent."""
        return await process_faults.undo(self, injected, ctx)

    # ------------------------------------------------------------ owned processes

    def _primary_exited(self, returncode: int | None) -> None:
        """The primary process exited on its own: tell the agent at once."""
        if self.on_exit is None:
            return
        try:
            self.on_exit(self.name, returncode)
        except Exception:
            _log.warning("on_exit callback for component %r failed", self.name, exc_info=True)

    def _spawn_primary(self, reason: str) -> OwnedProcess:
        proc = self._spawn(
            label=self.name,
            port=self.spec.port,
            reason=reason,
            record_path=self._primary_path,
            log_path=self._log_path,
            on_exit=self._primary_exited,
        )
        self._starts += 1
        write_json(self._state_path, {"starts": self._starts})
        return proc

    def _spawn(
        self,
        *,
        label: str,
        port: int | None,
        reason: str,
        record_path: Path,
        log_path: Path,
        on_exit: Callable[[int | None], None] | None,
    ) -> OwnedProcess:
        argv = self._argv()
        cwd = self._work_dir()
        check_work_dir(self.name, cwd)
        try:
            return OwnedProcess.spawn(
                label=label,
                argv=argv,
                cwd=cwd,
                env=self._env(port),
                port=port,
                reason=reason,
                record_path=record_path,
                log_path=log_path,
                clock=self._clock,
                on_exit=on_exit,
            )
        except FileNotFoundError as exc:
            raise ProviderError(
                f"component {self.name!r}: spec.command: program {argv[0]!r} not found; "
                "give a program on PATH or an absolute path"
            ) from exc
        except OSError as exc:
            raise ProviderError(
                f"component {self.name!r}: cannot start {argv[0]!r}: {exc.strerror}; "
                "check spec.command and its permissions"
            ) from exc

    async def _stop(self, proc: OwnedProcess, reason: str) -> str | None:
        return await proc.stop(self._stop_signal, self.spec.stop_grace.total_seconds(), reason)

    def _argv(self) -> list[str]:
        command = self.spec.command or []
        return ["/bin/sh", "-c", *command] if self.spec.shell else list(command)

    @staticmethod
    def _run_argv(step: Run) -> list[str]:
        command = step.command or []
        # A string command is split by the catalog; with shell, hand the shell the whole line.
        return ["/bin/sh", "-c", " ".join(command)] if step.shell else list(command)

    def _cwd(self) -> Path | None:
        """``spec.cwd`` resolved, if given."""
        return None if self.spec.cwd is None else self.catalog.resolve_path(self.spec.cwd)

    def _work_dir(self) -> Path:
        """Where the process and commands run: ``spec.cwd``, else the catalog's folder."""
        return self._cwd() or self.catalog.base_dir

    def _env(self, port: int | None) -> dict[str, str]:
        env = {**os.environ, **self.spec.env}
        if port is not None:
            env["PORT"] = str(port)
        return env

    @property
    def _primary_path(self) -> Path:
        return self._run_dir / "primary.pid"

    @property
    def _state_path(self) -> Path:
        return self._run_dir / "state.json"

    @property
    def _log_path(self) -> Path:
        return self._log_dir / f"{self.name}.log"


def _port_free(port: int) -> bool:
    """True when nothing holds 127.0.0.1:``port`` (bound, not listened on)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


__all__ = ["ProcessProvider"]
