"""Faults of the ``redis`` provider, for drills: kill, delete-data, hang.

The server's pid is asked of the server itself (``INFO`` ``process_id``): it is the
redis-server, also under a ``runuser`` parent or when paramedic did not start it.

``delete-data`` never deletes what is on disk. FLUSHALL rewrites ``dump.rdb`` (when save points
are set) and is appended to the AOF, so the files are moved aside *first*, AOF writing turned
off (``CONFIG SET appendonly no``, in memory only) so the moved AOF stays as it was; then
FLUSHALL and SIGKILL (no save on exit). The files end in ``<dir>/drill-<drill id>/``.
"""

from __future__ import annotations

import contextlib
import signal
from typing import TYPE_CHECKING, Any

import redis.exceptions

from paramedic.errors import ProviderError
from paramedic.providers.base import FaultContext, InjectedFault
from paramedic.providers.local.faults import check_fault, identity_of, send_signal, wait_gone
from paramedic.providers.local.redis_server import connect
from paramedic.providers.local.step_marker import safe_name

if TYPE_CHECKING:
    from pathlib import Path

    from paramedic.providers.local.redis import RedisProvider


async def _server(provider: RedisProvider, fault: str) -> dict[str, int]:
    """Identity of the redis-server answering on the component's port."""
    spec = provider.spec
    try:
        async with connect(spec.host, spec.port) as client:
            info = await client.info("server")
    except (redis.exceptions.RedisError, OSError) as exc:
        raise ProviderError(
            f"component {provider.name!r}: no redis-server answers on {spec.host}:{spec.port} "
            f"({exc}); start it before injecting {fault!r}"
        ) from exc
    found = identity_of(int(info.get("process_id", 0)))
    if found is None:
        raise ProviderError(
            f"component {provider.name!r}: the redis-server on {spec.host}:{spec.port} runs "
            f"outside this host's view (pid {info.get('process_id')}); a drill needs a local one"
        )
    return found


async def inject(provider: RedisProvider, fault: str, ctx: FaultContext) -> InjectedFault:
    """Inject ``fault`` into the component's redis-server."""
    check_fault(provider.info, fault)
    server = await _server(provider, fault)
    pid = server["pid"]
    undo: dict[str, Any] = dict(server)
    if fault == "delete-data":
        moved = await _flush_and_move(provider, ctx, server)
        undo["moved"] = moved
        where = ", ".join(moved) if moved else "no data files were on disk"
        description = f"FLUSHALL, then pid {pid} killed with SIGKILL; data files moved: {where}"
    else:
        sig = signal.SIGKILL if fault == "kill" else signal.SIGSTOP
        _deliver(provider, server, sig)
        description = f"redis-server pid {pid} " + (
            "killed with SIGKILL" if fault == "kill" else "stopped with SIGSTOP (hung)"
        )
    injected_at = provider._clock.now()
    ctx.log(f"{provider.name}: {description}")
    return InjectedFault(fault, injected_at, description, undo)


def _deliver(provider: RedisProvider, server: dict[str, int], sig: signal.Signals) -> None:
    if not send_signal(server["pid"], server["start_time"], sig, group=False):
        raise ProviderError(
            f"component {provider.name!r}: redis-server pid {server['pid']} exited before "
            f"{sig.name} reached it; run the drill again once it runs"
        )


async def _flush_and_move(
    provider: RedisProvider, ctx: FaultContext, server: dict[str, int]
) -> list[str]:
    """Move the data files aside, FLUSHALL, SIGKILL; the new places of the files moved."""
    files = await provider.server.files()
    spec = provider.spec
    try:
        async with connect(spec.host, spec.port) as client:
            if files.appendonly:
                await client.config_set("appendonly", "no")
            aside = files.dir / f"drill-{safe_name(ctx.drill_id)}"
            moved = [_move(path, aside) for path in (files.rdb, files.aof)]
            await client.flushall()
    except (redis.exceptions.RedisError, OSError) as exc:
        raise ProviderError(
            f"component {provider.name!r}: delete-data stopped half way: {exc}; "
            f"look in {files.dir} and drill-{safe_name(ctx.drill_id)} there"
        ) from exc
    _deliver(provider, server, signal.SIGKILL)
    await wait_gone(server["pid"], server["start_time"])
    return [f"{path} -> {to}" for path, to in zip((files.rdb, files.aof), moved, strict=True) if to]


def _move(path: Path, folder: Path) -> str | None:
    """Rename ``path`` into ``folder`` (created); its new place, None when there was no file."""
    if not path.exists() and not path.is_symlink():
        return None
    folder.mkdir(exist_ok=True)
    target, n = folder / path.name, 2
    while target.exists() or target.is_symlink():  # never over an earlier drill's file
        target, n = folder / f"{path.name}.{n}", n + 1
    path.rename(target)
    return str(target)


async def undo(provider: RedisProvider, injected: InjectedFault, ctx: FaultContext) -> str:
    """Resume a hung server; nothing else is put back (moved files stay where they are)."""
    state = injected.undo
    pid, start = state.get("pid"), state.get("start_time")
    if injected.fault == "hang" and isinstance(pid, int) and isinstance(start, int):
        with contextlib.suppress(PermissionError):
            if send_signal(pid, start, signal.SIGCONT, group=False):
                return f"redis-server pid {pid} resumed with SIGCONT"
        return f"nothing to resume: redis-server pid {pid} is gone (the recovery replaced it)"
    if injected.fault == "delete-data":
        moved = state.get("moved") or []
        kept = "; ".join(str(line) for line in moved) if moved else "no data files were moved"
        return f"nothing to undo: the moved data files stay where they are ({kept})"
    return f"nothing to undo for {injected.fault!r}: the recovery starts redis-server again"
