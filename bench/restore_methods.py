"""The timed ways of bringing the benchmark's cluster back to the target time.

Every method starts with the cluster stopped and its data directory present (the previous
trial's), as after a failure, and ends when ``pg_is_in_recovery()`` is false:

- ``paramedic``: ``PostgresProvider.carry_out(restore_from_backup, ActionContext)``, the call the
  recovery workflow makes, for one engine; its phases are timed by wrapping the provider's and
  the engine's own steps (``PhaseTimer``), which changes nothing they do;
- ``pgbackrest_by_hand``: what a pgBackRest user types: move the directory aside, ``pgbackrest
  restore --type=time``, ``pg_ctl start``, wait for promotion;
- ``floor``: ``cp -a`` of the base backup folder, then (separately) the start → promotion time
  of that copy with the same recovery settings paramedic writes, replaying the same WAL.
"""

from __future__ import annotations

import inspect
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from restore_site import Site, drop, log_from, replay_from_log

from paramedic.catalog.model import Strategy
from paramedic.providers.base import ActionContext
from paramedic.providers.local.postgres_backup import BaseBackupEngine, pg_time

STEP = TypeAdapter(Strategy)


@dataclass
class Trial:
    """One timed restore: total seconds, its phases, and what the server log said of replay."""

    method: str
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)
    replay: dict[str, float] = field(default_factory=dict)
    note: str = ""


class PhaseTimer:
    """Wall time of named steps: wraps methods of one object (an instance attribute shadows them)."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, float]] = []

    def wrap(self, owner: object, attr: str, label: str) -> None:
        """Time every call of ``owner.attr`` as ``label``."""
        original: Callable[..., Any] = getattr(owner, attr)
        spans = self.spans

        if inspect.iscoroutinefunction(original):

            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                started = time.monotonic()
                try:
                    return await original(*args, **kwargs)
                finally:
                    spans.append((label, time.monotonic() - started))

            setattr(owner, attr, timed_async)
        else:

            def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.monotonic()
                try:
                    return original(*args, **kwargs)
                finally:
                    spans.append((label, time.monotonic() - started))

            setattr(owner, attr, timed)

    def totals(self) -> dict[str, float]:
        """Seconds per label, summed over calls."""
        found: dict[str, float] = {}
        for label, seconds in self.spans:
            found[label] = found.get(label, 0.0) + seconds
        return found


async def paramedic_restore(site: Site, engine: str, trial: int) -> Trial:
    """``carry_out(restore_from_backup <target>)`` through the provider, timed by phase."""
    assert site.target is not None
    provider = site.provider(engine)
    timer = PhaseTimer()
    for attr, label in (
        ("stop", "stop"),
        ("_rename_aside", "move aside"),
        ("start", "pg_ctl start -w"),
        ("_await_promotion", "replay until promoted"),
        ("_forget_recovery_settings", "reset recovery settings"),
    ):
        timer.wrap(provider, attr, label)
    make_engine = provider.engine

    def timed_engine(repository: Path | None = None) -> Any:
        made = make_engine(repository)
        timer.wrap(made, "plan", "plan (pick backup, newest commit)")
        timer.wrap(made, "restore", "restore files (engine)")
        if isinstance(made, BaseBackupEngine):
            timer.wrap(made, "_own_private", "  of which chown after cp")
            timer.wrap(made, "_into_place", "  of which settings + chown + rename")
        return made

    provider.engine = timed_engine  # type: ignore[method-assign]
    catalog = site.catalog(engine)
    ctx = ActionContext(
        incident_id=f"bench-{engine}-{trial}",
        step_index=0,
        component_name="db",
        component=catalog.components["db"],
        catalog=catalog,
    )
    step = STEP.validate_python(
        {"strategy": "restore_from_backup", "target": site.target.isoformat()}
    )
    offset = _size(provider.log_path)
    started = time.monotonic()
    result = await provider.carry_out(step, ctx)
    seconds = time.monotonic() - started
    phases = timer.totals()
    phases["other (markers, queries, Python)"] = seconds - sum(
        v for k, v in phases.items() if not k.startswith("  ")
    )
    site.pg_ctl_stop(site.server.data_dir)
    replay = replay_from_log(log_from(provider.log_path, offset))
    aside = result.detail.get("moved_aside")
    if aside:
        drop(Path(aside))
    return Trial(f"paramedic {engine}", seconds, phases, replay, result.detail.get("stop_at") or "")


def pgbackrest_by_hand(
    site: Site, trial: int, process_max: int = 1, async_get: bool = False
) -> Trial:
    """Move aside, ``pgbackrest restore --type=time``, ``pg_ctl start``, wait for promotion.

    ``process_max`` > 1: pgBackRest's parallel restore (its default is 1). ``async_get``: a copy
    of paramedic's pgbackrest.conf with ``archive-async=y`` and a spool path, so the
    ``restore_command`` it writes prefetches WAL segments in the background.
    """
    assert site.target is not None
    data_dir = site.server.data_dir
    aside = data_dir.with_name(f"data.by-hand-{trial}")
    log = site.base / "by-hand.log"
    offset = _size(log)
    config = site.repository("pgbackrest") / "pgbackrest.conf"
    if async_get:
        config = _async_config(site, config, process_max)
    timer = PhaseTimer()
    started = time.monotonic()
    step = _stopwatch(timer.spans)
    site.pg_ctl_stop(data_dir, "immediate")
    data_dir.rename(aside)
    site.as_owner(["mkdir", "-m", "700", str(data_dir)])
    step("stop + move aside")
    site.as_owner(
        ["pgbackrest", f"--config={config}", "--stanza=db", "restore", "--type=time",
         f"--target={pg_time(site.target)}", "--target-exclusive", "--target-action=promote",
         "--target-timeline=latest", f"--process-max={process_max}"]
    )  # fmt: skip
    step("pgbackrest restore")
    conf = (data_dir / "postgresql.auto.conf").read_text()
    written = [line for line in conf.splitlines() if line.startswith("restore_command")]
    site.pg_ctl_start(data_dir, log)
    step("pg_ctl start -w")
    site.wait_promoted()
    step("replay until promoted")
    seconds = time.monotonic() - started
    site.pg_ctl_stop(data_dir)  # first: "ready to accept connections" may not be logged yet
    replay = replay_from_log(log_from(log, offset))
    drop(aside)
    extras = (["async archive-get"] if async_get else []) + (
        [f"process-max {process_max}"] if process_max > 1 else []
    )
    name = "pgBackRest by hand" + (f" ({', '.join(extras)})" if extras else "")
    return Trial(name, seconds, timer.totals(), replay, note=" ".join(written[-1:]))


def _async_config(site: Site, config: Path, process_max: int) -> Path:
    """paramedic's pgbackrest.conf with asynchronous archive-get (setup: never timed)."""
    spool = site.base / "spool"
    spool.mkdir(exist_ok=True)
    site.chown_tree(spool)
    text = config.read_text().replace(
        "archive-async=n",
        f"archive-async=y\nspool-path={spool}\nprocess-max={process_max}\n"
        "archive-get-queue-max=256MiB",
    )
    copy = config.with_name("pgbackrest-async.conf")
    copy.write_text(text)
    return copy


def floor_copy(site: Site, trial: int) -> tuple[Trial, Path]:
    """``cp -a`` of the pg_basebackup backup folder; the copy is left for ``floor_replay``."""
    source = Path(site.facts["pg_basebackup_backup"])
    dest = site.base / f"floor-{trial}"
    drop(dest)
    started = time.monotonic()
    subprocess.run(["cp", "-a", str(source), str(dest)], check=True)
    seconds = time.monotonic() - started
    return Trial("floor: cp -a of the base backup", seconds), dest


def floor_replay(site: Site, copy: Path) -> Trial:
    """Start → promotion of ``copy`` with paramedic's recovery settings (same WAL, same target)."""
    assert site.target is not None
    engine = site.provider("pg_basebackup").engine()
    assert isinstance(engine, BaseBackupEngine)
    settings = {
        "restore_command": engine.restore_command(),
        "recovery_target_timeline": "latest",
        "recovery_target_time": pg_time(site.target),
        "recovery_target_inclusive": "off",
        "recovery_target_action": "promote",
        "archive_mode": "off",  # the copy is not at pg1-path: pgBackRest would refuse its pushes
    }
    with (copy / "postgresql.auto.conf").open("a") as conf:
        for name, value in settings.items():
            conf.write(f"{name} = '{value.replace(chr(39), chr(39) * 2)}'\n")
    (copy / "recovery.signal").write_text("")
    site.chown_tree(copy)
    copy.chmod(0o700)
    log = site.base / "floor.log"
    offset = _size(log)
    timer = PhaseTimer()
    started = time.monotonic()
    step = _stopwatch(timer.spans)
    site.pg_ctl_start(copy, log)
    step("pg_ctl start -w")
    site.wait_promoted()
    step("replay until promoted")
    seconds = time.monotonic() - started
    site.pg_ctl_stop(copy)
    replay = replay_from_log(log_from(log, offset))
    drop(copy)
    return Trial("floor: WAL replay to promotion", seconds, timer.totals(), replay)


def _stopwatch(spans: list[tuple[str, float]]) -> Callable[[str], None]:
    """A function that records the time since its last call under a label."""
    last = [time.monotonic()]

    def step(label: str) -> None:
        now = time.monotonic()
        spans.append((label, now - last[0]))
        last[0] = now

    return step


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0
