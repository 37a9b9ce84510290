"""What the data providers (redis, files) share: specs read, files copied with a checksum,
damaged data moved aside, recovery points chosen and pruned, steps made repeatable.

Safety rule: a recovery never deletes data. ``move_aside`` renames what is in the way to
``<name>.damaged-<incident id>`` (``.2``, ``.3``... when taken), recording each move in the
step's marker before doing it, so a repeat call after a crash finishes the same moves.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from paramedic.catalog.model import Catalog, Run
from paramedic.errors import ProviderError
from paramedic.providers.base import ActionContext, ActionResult, RecoveryPoint, SpecModel
from paramedic.providers.local.commands import ComponentCommand
from paramedic.providers.local.step_marker import StepMarker, safe_name

S = TypeVar("S", bound=SpecModel)

CHUNK = 1 << 20
_STAMP = "%Y%m%dT%H%M%S.%fZ"


def load_spec(model: type[S], catalog: Catalog, name: str) -> S:
    """The component's ``spec`` read by ``model``; ProviderError naming the key otherwise."""
    try:
        return model.model_validate(catalog.components[name].spec)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(["spec", *(str(part) for part in first["loc"])])
        message = first["msg"].removeprefix("Value error, ")
        raise ProviderError(
            f"component {name!r}: {where}: {message}; fix it in the catalog"
        ) from exc


# ---------------------------------------------------------------- time stamps


def stamp(moment: datetime) -> str:
    """A UTC time as a file name part: ``20261125T140002.123456Z``."""
    return moment.astimezone(UTC).strftime(_STAMP)


def parse_stamp(text: str) -> datetime | None:
    """The time a ``stamp`` wrote; None when ``text`` is not one."""
    try:
        return datetime.strptime(text, _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds and ``Z``, as the journal shows times."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- files


def sha256_of(path: Path) -> str:
    """SHA-256 (hex) of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def copy_with_checksum(source: Path, target: Path) -> tuple[int, str]:
    """Copy ``source`` to ``target``, hashing while copying: (size, SHA-256 hex).

    The copy goes through a hidden sibling, is flushed to disk, then renamed: ``target`` is
    never a half copy. Permissions are not copied (the new file gets the umask's).
    """
    partial = target.with_name(f".{target.name}.partial")
    digest = hashlib.sha256()
    size = 0
    with source.open("rb") as reader, partial.open("wb") as writer:
        while block := reader.read(CHUNK):
            digest.update(block)
            writer.write(block)
            size += len(block)
        writer.flush()
        os.fsync(writer.fileno())
    partial.replace(target)
    fsync_dir(target.parent)
    return size, digest.hexdigest()


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename) to disk."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def give_to_owner_of(path: Path, reference: Path) -> None:
    """When paramedic runs as root, give ``path`` (and what it holds) to ``reference``'s owner.

    A server running as an unprivileged user must be able to read and rewrite what we put in
    its folder.
    """
    if os.geteuid() != 0:
        return
    owner = reference.stat()
    entries = [path]
    if path.is_dir() and not path.is_symlink():
        entries += list(path.rglob("*"))
    for entry in entries:
        os.chown(entry, owner.st_uid, owner.st_gid, follow_symlinks=False)


def exists(path: Path) -> bool:
    """True for anything at ``path``, a dangling symbolic link included."""
    return path.exists() or path.is_symlink()


def free_name(path: Path, suffix: str) -> Path:
    """The first free ``<path>.<suffix>`` (then ``.2``, ``.3``...)."""
    base = path.with_name(f"{path.name}.{suffix}")
    candidate, n = base, 2
    while exists(candidate):
        candidate, n = base.with_name(f"{base.name}.{n}"), n + 1
    return candidate


def aside_name(path: Path, incident_id: str) -> Path:
    """The first free ``<path>.damaged-<incident id>`` (then ``.2``, ``.3``...)."""
    return free_name(path, f"damaged-{safe_name(incident_id)}")


def move_aside(paths: Sequence[Path], incident_id: str, marker: StepMarker) -> list[list[str]]:
    """Rename each of ``paths`` that exists to its ``aside_name``; every move of the step so far.

    Each move is recorded in the marker (``aside``: [[from, to], ...]) before the rename, so a
    call repeated after a crash redoes an interrupted rename under the same name.
    """
    moves: list[list[str]] = [list(m) for m in marker.data.get("aside") or []]
    for path in paths:
        if not exists(path):
            continue
        target = aside_name(path, incident_id)
        if [str(path), str(target)] not in moves:
            moves.append([str(path), str(target)])
            marker.advance(marker.phase or "begun", aside=moves)
        path.rename(target)
    return moves


def moves_text(moves: list[list[str]]) -> str:
    """``a → a.damaged-inc, b → b.damaged-inc`` or ``nothing to move aside``."""
    if not moves:
        return "nothing was in the way to move aside"
    return "moved aside (kept, not deleted): " + ", ".join(f"{a} → {b}" for a, b in moves)


# ---------------------------------------------------------------- recovery points


def newest_at_or_before(
    points: Sequence[RecoveryPoint], target: datetime | None
) -> list[RecoveryPoint]:
    """Points a restore to ``target`` may use, newest first (all of them for ``latest``)."""
    usable = [p for p in points if target is None or p.taken_at <= target]
    return sorted(usable, key=lambda p: p.taken_at, reverse=True)


def expired(points: Sequence[RecoveryPoint], keep: timedelta, now: datetime) -> list[RecoveryPoint]:
    """Points older than ``now - keep``, oldest first; never the newest point."""
    ordered = sorted(points, key=lambda p: p.taken_at)
    return [p for p in ordered[:-1] if p.taken_at < now - keep]


def no_point_message(component: str, target: datetime | None, points: int) -> str:
    """Why a restore found nothing to restore, with the fix."""
    if points == 0 or target is None:
        return (
            f"component {component!r}: no recovery point in the repository; "
            f"take one with `paramedic backup {component}`"
        )
    return (
        f"component {component!r}: no recovery point at or before {iso(target)} "
        f"({points} newer); restore to a later time or `latest`"
    )


# ---------------------------------------------------------------- steps


def repeated_result(marker: StepMarker, ctx: ActionContext) -> ActionResult | None:
    """The recorded result of a finished step, with its recovery point; None while unfinished."""
    result = marker.finished(ctx)
    if result is None:
        return None
    recorded = result.detail.get("recovery_point_at")
    point = datetime.fromisoformat(recorded) if isinstance(recorded, str) else None
    return ActionResult(output=result.output, recovery_point_at=point, detail=result.detail)


async def run_step(component: str, step: Run, ctx: ActionContext) -> ActionResult:
    """A ``run`` step: the user's command in the catalog's folder, incident and component in env."""
    if step.command is None:
        raise ProviderError(
            f"component {component!r}: recovery step {ctx.step_index}: this provider runs "
            f"commands, not functions ({step.function!r}); give command instead"
        )
    argv = ["/bin/sh", "-c", " ".join(step.command)] if step.shell else list(step.command)
    command = ComponentCommand(component, argv, f"recovery[{ctx.step_index}].command", "run")
    env = dict(os.environ, PARAMEDIC_INCIDENT=ctx.incident_id, PARAMEDIC_COMPONENT=component)
    output = await command.run(cwd=ctx.catalog.base_dir, env=env)
    return ActionResult(output=output, detail={"exit_code": 0})
