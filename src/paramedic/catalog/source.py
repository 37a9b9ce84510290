"""YAML text to plain data, remembering the line of every key and list item.

ruamel.yaml's round-trip loader keeps each mapping key's position
(``CommentedMap.lc``); the loader turns its nodes into plain dicts, lists and
scalars for pydantic, and keeps a ``SourceMap`` so every problem found later
can be reported at the line of the key that causes it.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scalarbool import ScalarBoolean

from paramedic.errors import CatalogError, Problem
from paramedic.redact import redact

YamlPath = tuple[str | int, ...]
"""Where a value sits in the document: mapping keys and list indexes from the top."""

MAX_VALUES = 1_000_000
"""Values allowed once aliases are expanded; guards against alias bombs."""

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")
_DUPLICATE = re.compile(r'found duplicate key "(.*)" with value')


def dotted(path: YamlPath) -> str:
    """``("components", "web", "recovery", 1)`` written as ``components.web.recovery[1]``."""
    out: list[str] = []
    for segment in path:
        if isinstance(segment, int):
            out.append(f"[{segment}]")
            continue
        text = segment if len(segment) <= 80 else segment[:77] + "..."
        if not _PLAIN_KEY.match(text):
            out.append(f"[{json.dumps(text)}]")
        else:
            out.append(f".{text}" if out else text)
    return "".join(out)


@dataclass
class SourceMap:
    """The 1-based line of every key and list item of one document, by its path."""

    file: str
    root_line: int = 1
    lines: dict[YamlPath, int] = field(default_factory=dict)

    def line(self, path: YamlPath) -> int:
        """Line of ``path``, else of its nearest ancestor present (a missing key's mapping)."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return self.root_line

    def problem(self, path: YamlPath, message: str) -> Problem:
        """A Problem at ``path``, with its line, path and a one-line message."""
        return Problem(self.file, self.line(path), dotted(path), redact(_one_line(message)))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def shown(value: object, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, to quote a user's value in a message."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_yaml(text: str, file: str) -> Any:
    """Round-trip parse ``text``; a YAML error becomes a CatalogError with one located Problem."""
    yaml = YAML(typ="rt")
    try:
        with warnings.catch_warnings():
            # A reused anchor is legal YAML 1.2; ruamel only warns about it.
            warnings.simplefilter("ignore")
            return yaml.load(text)
    except DuplicateKeyError as exc:
        match = _DUPLICATE.search(str(exc.problem or ""))
        key = f" {shown(match.group(1))}" if match else ""
        line = exc.problem_mark.line + 1 if exc.problem_mark is not None else None
        message = f"duplicate key{key}; a key may appear once in a mapping"
        raise CatalogError([Problem(file, line, "", message)]) from exc
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = _one_line(str(exc.problem or exc.context or "cannot be parsed"))
        if exc.context and reason.startswith("but "):
            reason = f"{_one_line(str(exc.context))}, {reason}"
        opened = exc.context_mark.line + 1 if exc.context_mark is not None else line
        plain = plain_yaml_error(f"{exc.context or ''} {reason}", opened)
        message = f"not valid YAML: {plain}{_quoted_line(text, line)}"
        message += f"; the parser says: {reason}"
        raise CatalogError([Problem(file, line, "", message)]) from exc
    except ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        message = f"contains a character YAML does not allow ({char}); remove it"
        raise CatalogError([Problem(file, line, "", message)]) from exc
    except RecursionError as exc:
        raise CatalogError([Problem(file, None, "", "nests too deeply to be read")]) from exc
    except (YAMLError, ValueError, TypeError, AttributeError) as exc:
        # ruamel raises plain ValueError for e.g. `!!int foo`: its reason, redacted and cut short.
        reason = redact(_one_line(str(exc)))[:200]
        raise CatalogError([Problem(file, None, "", f"cannot be read as YAML: {reason}")]) from exc


_PLAIN = (
    (
        "mapping values are not allowed",
        "a ':' where no key can start; check this line's "
        "indentation against the line above, or quote a value that holds ': '",
    ),
    ("found character '\\t'", "a tab; YAML indents with spaces only"),
    (
        "while scanning a quoted scalar",
        "quoted text opened on line {opened} is never closed; add the closing quote",
    ),
    (
        "expected ',' or '}'",
        "a '{' opened on line {opened} is not closed before this line; "
        "close it with '}', or quote a value that holds ':' or ','",
    ),
    (
        "expected ',' or ']'",
        "a '[' opened on line {opened} is not closed before this line; "
        "close it with ']', or quote a value that holds ','",
    ),
    (
        "could not find expected ':'",
        "a line that is neither a key with ': ' nor part of the "
        "value above; add ': ' after the key, or indent or quote the text",
    ),
    (
        "expected <block end>",
        "this line's indentation does not match the lines above it; align it with its siblings",
    ),
    ("expected a single document", "a second document ('---'); a catalog is one document"),
    ("found undefined alias", "an alias (*name) with no anchor (&name) before it"),
)


def plain_yaml_error(reason: str, opened: int | None) -> str:
    """A plain sentence for the YAML parser's ``reason``, pointing at line ``opened`` where a
    construct began (the parser's own words stay in the message, after this one)."""
    for needle, sentence in _PLAIN:
        if needle in reason:
            return sentence.replace("{opened}", str(opened) if opened is not None else "?")
    return "the text here cannot be read as YAML"


def _quoted_line(text: str, line: int | None) -> str:
    """`` (line: `  db: 1`)`` for the line the parser stopped at; empty past the end."""
    lines = text.splitlines()
    if line is None or not 1 <= line <= len(lines) or not lines[line - 1].strip():
        return ""
    return f" (line: {shown(redact(lines[line - 1].rstrip()), 60)})"


class _Converter:
    """Turns ruamel nodes into plain data while filling a SourceMap."""

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self._count = 0
        self._open: set[int] = set()

    def convert(self, node: Any, path: YamlPath) -> Any:
        self._count += 1
        if self._count > MAX_VALUES:
            message = f"holds more than {MAX_VALUES:,} values once its aliases are expanded"
            raise CatalogError([Problem(self.source.file, None, "", message)])
        if isinstance(node, dict | list):
            if id(node) in self._open:
                self.problems.append(self.source.problem(path, "refers to itself through an alias"))
                return None
            self._open.add(id(node))
            try:
                if isinstance(node, dict):
                    return self._mapping(node, path)
                return self._sequence(node, path)
            finally:
                self._open.discard(id(node))
        return _scalar(node)

    def _mapping(self, node: dict[Any, Any], path: YamlPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        parent_line = self.source.line(path)
        for key, value in node.items():
            line = _key_line(node, key, parent_line)
            name = _key_text(key)
            if name is None:
                problem = Problem(
                    self.source.file,
                    line,
                    dotted(path),
                    "a key must be plain text, not a list or mapping",
                )
                self.problems.append(problem)
                continue
            child = (*path, name)
            if name in out:
                self.problems.append(
                    self.source.problem(child, "duplicate key; a key may appear once")
                )
                continue
            self.source.lines[child] = line
            out[name] = self.convert(value, child)
        return out

    def _sequence(self, node: list[Any], path: YamlPath) -> list[Any]:
        out: list[Any] = []
        parent_line = self.source.line(path)
        for index, item in enumerate(node):
            child = (*path, index)
            self.source.lines[child] = _item_line(node, index, parent_line)
            out.append(self.convert(item, child))
        return out


def _key_line(node: dict[Any, Any], key: Any, fallback: int) -> int:
    if isinstance(node, CommentedMap):
        try:
            return int(node.lc.key(key)[0]) + 1
        except (KeyError, TypeError, IndexError):
            pass  # a key brought in by a merge (<<) has no position of its own
    return fallback


def _item_line(node: list[Any], index: int, fallback: int) -> int:
    if isinstance(node, CommentedSeq):
        try:
            return int(node.lc.item(index)[0]) + 1
        except (KeyError, TypeError, IndexError):
            pass
    return fallback


def _key_text(key: Any) -> str | None:
    """A mapping key as text; None for a complex key (a list or mapping used as a key)."""
    if isinstance(key, TaggedScalar):
        key = key.value
    if isinstance(key, bool | ScalarBoolean):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, str | int | float | date):
        return key.isoformat() if isinstance(key, date) else str(key)
    return None


def _scalar(node: Any) -> Any:
    if isinstance(node, TaggedScalar):
        return None if node.value is None else str(node.value)
    if isinstance(node, bool | ScalarBoolean):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if node is None or isinstance(node, date):
        return node
    return str(node)


def to_plain(document: Any, file: str) -> tuple[Any, SourceMap, list[Problem]]:
    """Plain data of a parsed document, its SourceMap, and problems found converting it."""
    root_line = 1
    if isinstance(document, CommentedMap | CommentedSeq):
        root_line = int(document.lc.line) + 1
    source = SourceMap(file, root_line)
    converter = _Converter(source)
    try:
        data = converter.convert(document, ())
    except RecursionError as exc:
        raise CatalogError([Problem(file, None, "", "nests too deeply to be read")]) from exc
    return data, source, converter.problems


def iter_items(value: Any) -> Iterator[tuple[int, Any]]:
    """``enumerate(value)`` when it is a list, else nothing (for checks on unvalidated data)."""
    if isinstance(value, list):
        yield from enumerate(value)
