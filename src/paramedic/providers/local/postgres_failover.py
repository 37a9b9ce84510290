"""PostgreSQL failover to a streaming standby in the same location, and the rebuild afterwards.

``failover_to_standby`` (the strategy; ``PostgresProvider.carry_out`` dispatches to it):

1. **Measure** on the standby, before touching anything: ``pg_last_xact_replay_timestamp()``
   (the commit time of the newest transaction it replayed), ``pg_last_wal_receive_lsn()`` and
   ``pg_last_wal_replay_lsn()``. After the promotion the same timestamp is read again: it then
   also covers WAL that was received but not yet replayed at the failure, and stays fixed.
   ``recovery_point_at`` is the later of the two, so the measured RPO (``failed_at −
   recovery_point_at``) is the age of the newest transaction that survived. It is an upper
   bound: a primary idle before it failed shows its idle time as RPO.
2. **Fence** the old primary: stop it (``fast``, then ``immediate``), check that nothing answers
   as a primary on its address any more, then write ``standby.signal`` (and a ``paramedic.fenced``
   note) into its data directory. Anything that starts it later (a person, systemd, a
   ``restart_service``) brings it up in recovery, read-only: never a second primary. The fence
   is reversible (delete the two files) and deletes nothing. When the old primary cannot be
   stopped, the standby is NOT promoted (``ProviderError`` "refusing to promote ...").
3. **Promote** the standby (``pg_ctl promote -w``) and wait until ``pg_is_in_recovery()`` is false.
4. **Re-point clients**: when the failed primary's ``spec.load_balancer`` names an ``haproxy``
   component, its backend server named after the failed primary is switched to the standby's
   address; otherwise the output says that a later ``run`` step must re-point clients.

Idempotent for ``(incident, step)``: a marker (``<run_dir>/<component>/steps/<incident>.<step>
.failover.json``) keeps the measurement and how far the step got; a repeat call re-checks each
step against the servers (a promoted standby is not promoted again) and finishes what is missing.

``rebuild_as_standby`` is a function for an operator or a ``run`` hook, not a strategy step
(the catalog has no strategy for it): it turns the fenced old primary into a streaming standby
of the new primary, with ``pg_rewind`` when that loses nothing, else with ``pg_basebackup -R``
after moving the old data directory aside (never deleted).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg

from paramedic.errors import ProviderError
from paramedic.providers.base import ActionContext, ActionResult
from paramedic.providers.local.postgres import PostgresProvider
from paramedic.providers.local.step_marker import StepMarker, safe_name
from paramedic.providers.local.supervise import read_json
from paramedic.redact import redact

if TYPE_CHECKING:
    from paramedic.catalog.model import FailoverToStandby

FENCE_NOTE = "paramedic.fenced"
"""File written beside ``standby.signal`` in a fenced data directory, saying why it is there."""
_CONNECT_TIMEOUT_S = 3
_PROMOTE_WAIT_S = 60.0
_STREAMING_WAIT_S = 30.0
_POLL_S = 0.1
_DOWN = ("Connection refused", "No such file or directory")
"""libpq's words for "nothing listens there"."""


# ---------------------------------------------------------------- failover_to_standby


def standby_of(provider: PostgresProvider, step: FailoverToStandby) -> str:
    """The standby component of this failover (``step.standby``, else ``spec.standby``), checked."""
    name = step.standby or provider.spec.standby
    if name is None:
        raise ProviderError(
            f"component {provider.name!r}: failover_to_standby needs a standby; set spec.standby "
            "or the step's standby to a postgres component"
        )
    component = provider.catalog.components.get(name)
    if component is None or component.provider != "postgres" or name == provider.name:
        raise ProviderError(
            f"component {provider.name!r}: standby {name!r} is not another postgres component "
            "of the catalog; fix spec.standby or the step's standby"
        )
    return name


def describe_failover(provider: PostgresProvider, step: FailoverToStandby) -> str:
    """One sentence saying what ``failover_to_standby`` would do (``--dry-run``, approvals)."""
    try:
        standby = standby_of(provider, step)
    except ProviderError as exc:
        return f"nothing: {exc}"
    return (
        f"measure the replication lag on {standby}, fence {provider.name} (stop it, write "
        f"standby.signal into its data directory), promote {standby}, {_repoint_plan(provider)}"
    )


async def failover_to_standby(
    provider: PostgresProvider, step: FailoverToStandby, ctx: ActionContext
) -> ActionResult:
    """Measure the lag, fence the old primary, promote the standby, re-point clients.

    Refuses to promote (ProviderError) when the old primary cannot be fenced. Idempotent for
    ``(ctx.incident_id, ctx.step_index)``.
    """
    standby_name = standby_of(provider, step)
    if ctx.dry_run:
        return ActionResult(output=describe_failover(provider, step), detail={"dry_run": True})
    marker = _failover_marker(provider, ctx)
    if marker.phase == "done":
        return _repeated(marker, ctx)
    standby = PostgresProvider(catalog=provider.catalog, name=standby_name)
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        ctx.log(line)

    measured = marker.data.get("measured")
    if not isinstance(measured, dict):
        measured = await _measure(standby, ctx.failed_at)
        if not measured["in_recovery"]:  # checked before the old primary is touched
            raise ProviderError(
                f"refusing to fail over {provider.name} to {standby_name}: {standby_name} is not "
                "a standby (pg_is_in_recovery() is false); fix spec.standby or the step's standby"
            )
        marker.advance("measured", standby=standby_name, measured=measured)
    say(_measured_text(standby_name, measured))

    say(await _fence(provider, standby_name, ctx.incident_id))
    marker.advance("fenced")

    if await _in_recovery(standby):
        marker.advance("promoting")
        await _promote(standby)
        say(f"promoted {standby_name}: pg_ctl promote, pg_is_in_recovery() is now false")
    else:  # promoted by an earlier call for this step that did not finish
        say(f"{standby_name} was already promoted; not promoted again")
    marker.advance("promoted")
    [(after,)] = await standby.query("SELECT pg_last_xact_replay_timestamp()")
    point = _newest(measured.get("replay_at"), after)

    say(await _repoint(provider, standby))
    if point is None:
        say(f"no transaction replayed on {standby_name}: the measured RPO is unknown")
    detail: dict[str, Any] = {
        "promoted": standby_name,
        "fenced": provider.name,
        "lag_s": measured.get("lag_s"),
        "receive_lsn": measured.get("receive_lsn"),
        "replay_lsn": measured.get("replay_lsn"),
        "recovery_point_at": point.isoformat() if point else None,
    }
    output = "\n".join(lines)
    marker.advance("done", output=output, detail=detail)
    return ActionResult(output=output, recovery_point_at=point, detail=detail)


def _failover_marker(provider: PostgresProvider, ctx: ActionContext) -> StepMarker:
    # Beside, not inside, the provider's own step marker, which another step may use.
    name = f"{safe_name(ctx.incident_id)}.{ctx.step_index}.failover.json"
    path = provider.run_dir / "steps" / name
    return StepMarker(path, read_json(path))


def _repeated(marker: StepMarker, ctx: ActionContext) -> ActionResult:
    detail = dict(marker.data.get("detail") or {}, repeated=True)
    recorded = detail.get("recovery_point_at")
    point = datetime.fromisoformat(recorded) if isinstance(recorded, str) else None
    note = f"(already done for incident {ctx.incident_id} step {ctx.step_index}; not repeated)"
    return ActionResult(
        output=f"{marker.data.get('output', '')}\n{note}", recovery_point_at=point, detail=detail
    )


async def _measure(standby: PostgresProvider, failed_at: datetime | None) -> dict[str, Any]:
    """The standby's replication state at the failure, before anything is changed."""
    [row] = await standby.query(
        "SELECT pg_is_in_recovery(), pg_last_xact_replay_timestamp(),"
        " pg_last_wal_receive_lsn()::text, pg_last_wal_replay_lsn()::text,"
        " pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())"
    )
    in_recovery, replay_at, receive_lsn, replay_lsn, unreplayed = row
    reference = failed_at or datetime.now(UTC)
    lag = (reference - replay_at).total_seconds() if replay_at is not None else None
    return {
        "in_recovery": bool(in_recovery),
        "replay_at": replay_at.isoformat() if replay_at is not None else None,
        "receive_lsn": receive_lsn,
        "replay_lsn": replay_lsn,
        "unreplayed_bytes": int(unreplayed) if unreplayed is not None else None,
        "lag_s": round(lag, 3) if lag is not None else None,
        "measured_at": datetime.now(UTC).isoformat(),
    }


def _measured_text(standby: str, measured: dict[str, Any]) -> str:
    if measured.get("replay_at") is None:
        head = f"measured on {standby}: no transaction replayed yet"
    else:
        head = (
            f"measured on {standby}: last replayed transaction at {measured['replay_at']} "
            f"(lag {measured['lag_s']}s at the failure)"
        )
    if measured.get("receive_lsn") is None:
        return f"{head}; WAL replayed {measured['replay_lsn']}, none received by streaming"
    return (
        f"{head}; WAL received {measured['receive_lsn']}, replayed {measured['replay_lsn']}"
        f" ({measured['unreplayed_bytes']} bytes not yet replayed)"
    )


def _newest(recorded: object, after: object) -> datetime | None:
    found = [datetime.fromisoformat(recorded)] if isinstance(recorded, str) else []
    if isinstance(after, datetime):
        found.append(after)
    return max(found, default=None)


async def _fence(provider: PostgresProvider, standby: str, incident_id: str) -> str:
    """Stop the old primary and make any later start come up as a standby; refuse if it lives."""
    stopped, failed = "was not running", False
    # Asked even when pg_ctl sees nothing: a postmaster whose pid file is gone still serves.
    if provider.is_running() or await _still_primary(provider) is not None:
        failed, stopped = await _stop_hard(provider)
    alive = await _still_primary(provider)
    if alive is None and provider.is_running():
        alive = f"its postmaster {stopped}"
    elif alive is not None and failed:
        alive = f"{alive} and {stopped}"
    if alive is not None:
        raise ProviderError(
            f"refusing to promote {standby}: the old primary {provider.name} could not be fenced: "
            f"{alive}; stop it by hand (pg_ctl stop -m immediate -D {provider.data_dir}), "
            "then run the recovery again"
        )
    data_dir = provider.data_dir
    if not data_dir.is_dir():
        return f"fenced {provider.name}: it {stopped}; its data directory {data_dir} is missing"
    _write_owned(provider, "standby.signal", "")
    _write_owned(
        provider,
        FENCE_NOTE,
        f"fenced by paramedic for incident {incident_id}: {standby} was promoted in its place.\n"
        "standby.signal keeps this cluster from starting as a second primary; rebuild it as a\n"
        "standby (paramedic's rebuild_as_standby) instead of removing the files.\n",
    )
    return (
        f"fenced {provider.name}: it {stopped}; standby.signal written to {data_dir} "
        "so it can only start as a standby"
    )


async def _stop_hard(provider: PostgresProvider) -> tuple[bool, str]:
    """Stop ``fast``, then ``immediate``: (failed?, how it went in words)."""
    failures: list[str] = []
    for mode in ("fast", "immediate"):
        try:
            await provider.stop(mode=mode)
        except ProviderError as exc:
            failures.append(f"stop -m {mode} failed: {exc}")
            continue
        if not provider.is_running():
            return False, f"was stopped (pg_ctl stop -m {mode})"
        failures.append(f"still running after stop -m {mode}")
    return True, "could not be stopped (" + "; ".join(failures) + ")"


async def _still_primary(provider: PostgresProvider) -> str | None:
    """Why the old primary still counts as a live primary on its address; None when it does not."""
    where = f"{provider.spec.host}:{provider.spec.port}"
    try:
        conn = await psycopg.AsyncConnection.connect(
            provider.dsn(), autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S
        )
    except psycopg.Error as exc:
        if any(mark in str(exc) for mark in _DOWN):
            return None
        return f"cannot tell whether it is down ({_first_line(exc)} on {where})"
    try:
        cursor = await conn.execute("SELECT pg_is_in_recovery()")
        row = await cursor.fetchone()
    except psycopg.Error as exc:
        return f"it answers on {where} but not to pg_is_in_recovery() ({_first_line(exc)})"
    finally:
        await conn.close()
    if row is not None and row[0]:
        return None
    return f"it still accepts connections as a primary on {where}"


async def _promote(standby: PostgresProvider) -> None:
    """``pg_ctl promote -w``, then wait until the server leaves recovery."""
    await standby.pg_async("pg_ctl", "promote", "-w", "-D", str(standby.data_dir))
    deadline = time.monotonic() + _PROMOTE_WAIT_S
    while await _in_recovery(standby):
        if time.monotonic() > deadline:
            raise ProviderError(
                f"component {standby.name!r}: still in recovery {_PROMOTE_WAIT_S:g}s after "
                f"pg_ctl promote; see the server log {standby.log_path}"
            )
        await asyncio.sleep(_POLL_S)


async def _in_recovery(provider: PostgresProvider) -> bool:
    [(answer,)] = await provider.query("SELECT pg_is_in_recovery()")
    return bool(answer)


def _load_balancer(provider: PostgresProvider) -> str | None:
    """The haproxy component routing clients to the failed primary, if any."""
    name = provider.spec.load_balancer
    component = provider.catalog.components.get(name) if name else None
    return name if component is not None and component.provider == "haproxy" else None


def _repoint_plan(provider: PostgresProvider) -> str:
    lb = _load_balancer(provider)
    if lb is None:
        return "and leave re-pointing clients to a later run step (no haproxy spec.load_balancer)"
    return f"and re-point server {provider.name} of load balancer {lb} to the standby"


async def _repoint(provider: PostgresProvider, standby: PostgresProvider) -> str:
    """Switch the load balancer's server to the standby, or say who must re-point clients."""
    lb = _load_balancer(provider)
    if lb is None:
        why = (
            f"load balancer {provider.spec.load_balancer} is not an haproxy component"
            if provider.spec.load_balancer
            else "no spec.load_balancer"
        )
        return (
            f"clients not re-pointed ({why}): a later run step must send them to "
            f"{standby.name} at {standby.spec.host}:{standby.spec.port}"
        )
    from paramedic.providers.local.haproxy_repoint import repoint_backend  # only when one is used

    said = await repoint_backend(
        provider.catalog, lb, provider.name, standby.spec.host, standby.spec.port
    )
    return f"clients re-pointed: {said}"


# ---------------------------------------------------------------- rebuild_as_standby


async def rebuild_as_standby(
    provider: PostgresProvider,
    new_primary: PostgresProvider | str,
    incident_id: str,
    *,
    discard_diverged: bool = False,
) -> str:
    """Turn the fenced old primary into a streaming standby of ``new_primary``; says how.

    ``new_primary`` is its provider or a libpq DSN (a role allowed to replicate and to run
    pg_rewind). Not a strategy step: an operator or a ``run`` hook calls it once the failover
    is verified. ``pg_rewind`` is used when it can run (data checksums or ``wal_log_hints``)
    and discards nothing; when the old primary holds WAL the new one never received, its data
    directory is moved aside (kept, named with ``incident_id``) and rebuilt with
    ``pg_basebackup -R``, unless ``discard_diverged`` lets ``pg_rewind`` overwrite that WAL.
    """
    if isinstance(new_primary, PostgresProvider):
        dsn, source = new_primary.dsn(), new_primary.name
    else:
        dsn, source = new_primary, redact(new_primary)
    if provider.is_running():
        if await _streams(provider):
            return f"{provider.name} already streams as a standby; nothing rebuilt"
        await provider.stop(mode="fast")
    data_dir = provider.data_dir
    if data_dir.is_dir():
        why = await _rewind(provider, dsn, discard_diverged)
        how = f"pg_rewind from {source}" if why is None else None
    else:
        why, how = f"its data directory {data_dir} is missing", None
    if how is None:
        aside = await provider.move_aside(incident_id) if data_dir.exists() else None
        await provider.pg_async(
            "pg_basebackup", "-D", str(data_dir), "-d", dsn, "-R", "-X", "stream", "-c", "fast"
        )
        kept = f"; the old data directory is kept at {aside}" if aside else ""
        how = f"pg_basebackup -R from {source} ({why}){kept}"
    await provider.start_server()
    await _wait_streaming(provider)
    return f"rebuilt {provider.name} as a standby with {how}; it streams from the new primary"


async def _rewind(provider: PostgresProvider, dsn: str, discard_diverged: bool) -> str | None:
    """Rewind the data directory in place; None when done, else why a base backup is needed."""
    await _shut_down_cleanly(provider)
    # A just-promoted server shows its new timeline in pg_control only after a checkpoint;
    # before it, pg_rewind sees one timeline and wrongly answers "no rewind required".
    await _checkpoint(dsn)
    args = ["-D", str(provider.data_dir), f"--source-server={dsn}"]
    trial = await provider.pg_async("pg_rewind", *args, "--dry-run", check=False)
    said = f"{trial.stdout}\n{trial.stderr}"
    if trial.returncode != 0:
        return f"pg_rewind cannot run: {redact(_tail(said))}"
    if "no rewind required" not in said and not discard_diverged:
        diverged = re.search(r"servers diverged at WAL location (\S+)", said)
        at = diverged[1] if diverged else "the fork"
        return f"it holds WAL after {at} that the new primary never received"
    await provider.pg_async("pg_rewind", *args, "--write-recovery-conf")
    return None


async def _shut_down_cleanly(provider: PostgresProvider) -> None:
    """pg_rewind needs a clean shutdown: after a crash, start once as a standby, then stop.

    Not pg_rewind's own single-user crash recovery: that refuses to run with standby.signal,
    and removing the fence, even briefly, could let the old primary start as one.
    """
    done = await provider.pg_async("pg_controldata", "-D", str(provider.data_dir))
    state = re.search(r"Database cluster state:\s*(.+)", done.stdout)
    if state is not None and state[1].strip() in ("shut down", "shut down in recovery"):
        return
    _write_owned(provider, "standby.signal", "")  # never started as a primary
    await provider.start_server()
    await provider.stop(mode="fast")


async def _checkpoint(dsn: str) -> None:
    try:
        async with await psycopg.AsyncConnection.connect(
            dsn, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S
        ) as conn:
            await conn.execute("CHECKPOINT")
    except psycopg.Error as exc:
        raise ProviderError(
            f"new primary {redact(dsn)}: CHECKPOINT failed: {_first_line(exc)}; check that it "
            "runs and that the DSN's role is a superuser"
        ) from exc


async def _streams(provider: PostgresProvider) -> bool:
    """True when the cluster is in recovery and its WAL receiver streams."""
    with contextlib.suppress(ProviderError):
        [row] = await provider.query(
            "SELECT pg_is_in_recovery(), (SELECT status FROM pg_stat_wal_receiver)"
        )
        return bool(row[0]) and row[1] == "streaming"
    return False


async def _wait_streaming(provider: PostgresProvider) -> None:
    deadline = time.monotonic() + _STREAMING_WAIT_S
    while not await _streams(provider):
        if time.monotonic() > deadline:
            raise ProviderError(
                f"component {provider.name!r}: rebuilt, but not streaming from the new primary "
                f"after {_STREAMING_WAIT_S:g}s; see the server log {provider.log_path}"
            )
        await asyncio.sleep(_POLL_S)


# ---------------------------------------------------------------- helpers


def _write_owned(provider: PostgresProvider, name: str, text: str) -> None:
    """Write ``name`` in the data directory, owned by the cluster's OS user."""
    path = provider.data_dir / name
    path.write_text(text)
    provider.own(path)


def _first_line(exc: BaseException) -> str:
    """libpq's reason, one line, without its ``connection to server at ... failed:`` preamble."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    return redact(first.rpartition(" failed: ")[2].removeprefix("FATAL:").strip())


def _tail(output: str) -> str:
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return " | ".join(lines[-2:]) or "no output"


__all__ = [
    "FENCE_NOTE",
    "describe_failover",
    "failover_to_standby",
    "rebuild_as_standby",
    "standby_of",
]
