"""Faults of the ``files`` provider, for drills: delete-tree, corrupt-files.

Nothing is deleted: ``delete-tree`` renames the folder to ``<path>.drill-<drill id>``;
``corrupt-files`` keeps byte-exact copies of the files it damages under
``<path>.drill-<drill id>.originals/`` (same relative paths).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paramedic.errors import ProviderError
from paramedic.providers.base import FaultContext, InjectedFault
from paramedic.providers.local.faults import check_fault, drill_aside

if TYPE_CHECKING:
    from paramedic.providers.local.files import FilesProvider

MAX_FILES = 3
"""How many files ``corrupt-files`` damages at most."""
DAMAGED_BYTES = 64
"""How many bytes at the start of each file are flipped (all of a smaller file)."""


async def inject(provider: FilesProvider, fault: str, ctx: FaultContext) -> InjectedFault:
    """Inject ``fault`` into the component's folder."""
    check_fault(provider.info, fault)
    path = provider.path
    if not path.is_dir():
        raise ProviderError(
            f"component {provider.name!r}: {path} is not a folder; nothing to inject "
            f"{fault!r} into (restore it first)"
        )
    if fault == "delete-tree":
        aside = drill_aside(path, ctx.drill_id)
        _rename(provider, path, aside)
        description = f"{path} moved to {aside}"
        undo: dict[str, Any] = {"moved_to": str(aside)}
    else:
        damaged, originals = _corrupt(provider, ctx)
        shown = ", ".join(str(p.relative_to(path)) for p in damaged)
        description = f"bytes overwritten in {shown} under {path}; originals kept in {originals}"
        undo = {"files": [str(p) for p in damaged], "originals": str(originals)}
    injected_at = provider._clock.now()
    ctx.log(f"{provider.name}: {description}")
    return InjectedFault(fault, injected_at, description, undo)


def _rename(provider: FilesProvider, path: Path, aside: Path) -> None:
    try:
        path.rename(aside)
    except OSError as exc:
        raise ProviderError(
            f"component {provider.name!r}: cannot move {path} to {aside}: {exc.strerror}; "
            f"check the permissions of {path.parent}"
        ) from exc


def _victims(path: Path) -> list[Path]:
    """Up to ``MAX_FILES`` non-empty regular files of the tree, in name order."""
    found: list[Path] = []
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            candidate = Path(root) / name
            if not candidate.is_symlink() and candidate.is_file() and candidate.stat().st_size:
                found.append(candidate)
                if len(found) == MAX_FILES:
                    return found
    return found


def _corrupt(provider: FilesProvider, ctx: FaultContext) -> tuple[list[Path], Path]:
    """Copy each victim into the originals folder, then flip its first bytes in place."""
    path = provider.path
    victims = _victims(path)
    if not victims:
        raise ProviderError(
            f"component {provider.name!r}: {path} holds no non-empty file to corrupt; "
            "put some data in it first"
        )
    originals = drill_aside(path, ctx.drill_id, ".originals")
    try:
        for victim in victims:
            kept = originals / victim.relative_to(path)
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(victim, kept)
        for victim in victims:
            with victim.open("r+b") as file:
                head = file.read(DAMAGED_BYTES)
                file.seek(0)
                file.write(bytes(byte ^ 0xFF for byte in head))
                file.flush()
                os.fsync(file.fileno())
    except OSError as exc:
        raise ProviderError(
            f"component {provider.name!r}: corrupt-files failed on {exc.filename}: "
            f"{exc.strerror}; the originals copied so far are in {originals}"
        ) from exc
    return victims, originals


async def undo(provider: FilesProvider, injected: InjectedFault, ctx: FaultContext) -> str:
    """Nothing is put back (the recovery restores); says where the moved or kept data is."""
    state = injected.undo
    if injected.fault == "delete-tree":
        return f"nothing to undo: the tree stays at {state.get('moved_to')} (not moved back)"
    return f"nothing to undo: the original files stay in {state.get('originals')} (not copied back)"
