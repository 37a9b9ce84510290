"""Load a catalog file: every problem found at once, each at its file and line.

    load_catalog("paramedic.yaml")   # -> Catalog, or CatalogError listing every problem

Reading goes in stages, each of which can stop with a single one-line
problem (no file, not UTF-8, empty, YAML syntax, duplicate key, a top level
that is not a mapping, an unknown ``version``); past them, the models and the
checks across the document report everything they find, sorted by line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from paramedic.catalog.compose import read_yaml
from paramedic.catalog.crosscheck import document_problems
from paramedic.catalog.messages import validation_problems
from paramedic.catalog.model import Catalog
from paramedic.catalog.source import SourceMap, shown
from paramedic.errors import CatalogError, Problem

CATALOG_VERSION = 1


def load_catalog(path: str | Path) -> Catalog:
    """Read and validate the catalog at ``path``; relative paths resolve against its folder."""
    file = Path(path)
    text = _read(file)
    return load_catalog_text(text, str(path), file.parent.resolve())


def load_catalog_text(text: str, filename: str, base_dir: Path | None = None) -> Catalog:
    """Validate ``text`` read from ``filename``; relative paths resolve against ``base_dir``."""
    if not text.strip():
        raise _single(
            filename, None, "is empty; a catalog needs at least 'version: 1' and 'components:'"
        )
    document = read_yaml(text, filename)
    if document is None:
        raise _single(
            filename, None, "holds only comments; a catalog needs 'version: 1' and 'components:'"
        )
    data, source, problems = document.data, document.source, document.problems
    if not isinstance(data, dict):
        kind = _kind(data)
        message = f"the top level must be a mapping (version: 1, components: ...), not {kind}"
        raise _single(filename, source.root_line, message)
    _check_version(data, source)
    catalog: Catalog | None = None
    try:
        catalog = Catalog.model_validate(data)
    except ValidationError as exc:
        problems.extend(validation_problems(exc, Catalog, source))
    problems.extend(document_problems(data, source))
    if problems or catalog is None:
        raise CatalogError(_tidy(problems))
    return catalog.with_origin(filename, base_dir if base_dir is not None else Path.cwd())


def _read(file: Path) -> str:
    """The file's text; a file that cannot be read is one problem naming the fix."""
    name = str(file)
    if file.is_dir():
        raise _single(
            name, None, "is a folder; pass the catalog file (for example paramedic.yaml) inside it"
        )
    try:
        raw = file.read_bytes()
    except FileNotFoundError as exc:
        message = "no such file; create it, or pass another path with -c PATH or PARAMEDIC_CATALOG"
        raise _single(name, None, message) from exc
    except PermissionError as exc:
        raise _single(
            name, None, "cannot be read: permission denied; check its permissions"
        ) from exc
    except OSError as exc:
        raise _single(name, None, f"cannot be read: {exc.strerror or exc}") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        byte = raw[exc.start : exc.start + 1].hex()
        message = f"is not UTF-8 text (byte 0x{byte}); save it as UTF-8"
        raise _single(name, line, message) from exc


def _check_version(data: dict[str, Any], source: SourceMap) -> None:
    """A version other than 1 stops here: the rest of the file may mean something else."""
    if "version" not in data:
        return
    version = data["version"]
    if type(version) is int and version == CATALOG_VERSION:
        return
    found = shown(version)
    message = f"must be {CATALOG_VERSION}, the catalog format this paramedic reads; found {found}"
    raise CatalogError([source.problem(("version",), message)])


def _tidy(problems: list[Problem]) -> list[Problem]:
    """Problems without repeats, sorted by line (problems without a line first)."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: p.line if p.line is not None else 0)


def _single(file: str, line: int | None, message: str) -> CatalogError:
    return CatalogError([Problem(file, line, "", message)])


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return "a single value"
