"""The working directory of a replaced instance: moved aside (never deleted), reset from a template.

Safety rule: a recovery never deletes data. The old folder is renamed to
``<cwd>.replaced-<incident id>``, its files intact, and the template is copied into its place.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from paramedic.errors import ProviderError
from paramedic.providers.local.step_marker import StepMarker, safe_name


def checked_template(component: str, cwd: Path | None, template: Path) -> tuple[Path, Path]:
    """(cwd, template) once both make sense; ProviderError naming the fix otherwise."""
    if cwd is None:
        raise ProviderError(
            f"component {component!r}: replace_instance with template_dir needs spec.cwd "
            "(the folder the template replaces)"
        )
    if not template.is_dir():
        raise ProviderError(
            f"component {component!r}: template_dir {template} does not exist; "
            "create it or fix spec.template_dir"
        )
    return cwd, template


def move_aside(cwd: Path, incident_id: str, marker: StepMarker) -> None:
    """Rename ``cwd`` to ``<cwd>.replaced-<incident id>`` (``.2``, ``.3``... if taken).

    The new name is recorded in the step's marker before the rename, so a repeat call after
    a crash finishes the same move instead of making another.
    """
    recorded = marker.data.get("aside")
    if isinstance(recorded, str):
        aside = Path(recorded)
    elif cwd.exists():
        base = cwd.with_name(f"{cwd.name}.replaced-{safe_name(incident_id)}")
        aside, n = base, 2
        while aside.exists():
            aside, n = base.with_name(f"{base.name}.{n}"), n + 1
        marker.advance(marker.phase or "begun", aside=str(aside))
    else:
        return
    if cwd.exists() and not aside.exists():
        cwd.rename(aside)


def copy_template(template: Path, cwd: Path) -> None:
    """Copy ``template`` to ``cwd`` through a hidden sibling, so no half copy is ever in place."""
    if cwd.exists():
        return
    copy = cwd.with_name(f".{cwd.name}.template-copy")
    if copy.exists():  # a copy a crash interrupted: it holds only template files
        shutil.rmtree(copy)
    shutil.copytree(template, copy, symlinks=True)
    copy.rename(cwd)
