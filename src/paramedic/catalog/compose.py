"""YAML text to plain data and a SourceMap, in one pass over the parser's events.

    read_yaml(text, "paramedic.yaml")   # -> Document, or None for a file of comments only

libyaml's C parser (PyYAML's ``CParser``) gives the events; without libyaml, PyYAML's
pure-Python parser gives the same events, only slower. No node tree is built: each event
becomes a dict, list or scalar at once and each key and list item's line goes into the
SourceMap, so a 10,000-component catalog is read in a second or two, with little memory
beyond the data itself. When libyaml refuses the text, the pure-Python parser reads it
again for its error, whose wording (the wording ruamel.yaml used) the plain sentences in
``source`` are written against.

Scalars mean what ruamel.yaml's round-trip loader made of them (``scalars``); anchors,
aliases and merge keys (``<<``) are expanded; a key written twice in one mapping stops the
read with both lines.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from paramedic.catalog.scalars import (
    MAPPING_TAGS,
    MERGE,
    SEQUENCE_TAGS,
    STR,
    ScalarError,
    is_yaml_1_1,
    resolver_for,
    scalar_value,
)
from paramedic.catalog.source import SourceMap, YamlPath, dotted, shown, yaml_error
from paramedic.errors import CatalogError, Problem

MAX_VALUES = 1_000_000
"""Values allowed once aliases are expanded; guards against alias bombs."""


def _libyaml_parser() -> Any:
    """libyaml's parser class; None when PyYAML was built without libyaml."""
    try:
        import yaml.cyaml
    except ImportError:
        return None
    return getattr(yaml.cyaml, "CParser", None)


FastParser: Any = _libyaml_parser()


class _PurePythonParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


@dataclass
class Document:
    """A catalog file's plain data, where each part of it is written, and problems found."""

    data: Any
    source: SourceMap
    problems: list[Problem] = field(default_factory=list)


@dataclass
class _Anchored:
    """What ``&name`` stands for: its value, the lines under it (relative), its value count."""

    value: Any
    lines: dict[YamlPath, int]
    count: int
    open: bool = True


def read_yaml(text: str, file: str) -> Document | None:
    """Parse ``text`` read from ``file``; None when it holds no value (comments only, ``~``).

    Raises CatalogError with one located problem for text that is not YAML, a key written
    twice in one mapping, a value its tag refuses (``!!int x``), or an alias bomb.
    """
    return _read(text, file, lines=False)


def _lines_of(text: str, file: str) -> dict[YamlPath, int]:
    """Every key and list item's line: the text is read again, this time keeping them."""
    document = _read(text, file, lines=True)
    return document.source.lines if document is not None else {}


def _read(text: str, file: str, lines: bool) -> Document | None:
    if FastParser is not None:
        try:
            return _Builder(text, file, FastParser(text), lines).document()
        except (yaml.YAMLError, RecursionError):
            pass  # read again below, for the error in the words the messages expect
    try:
        return _Builder(text, file, _PurePythonParser(text), lines).document()
    except yaml.YAMLError as exc:
        raise CatalogError([yaml_error(exc, text, file)]) from exc
    except RecursionError as exc:
        raise CatalogError([Problem(file, None, "", "nests too deeply to be read")]) from exc


class _Builder:
    """Plain data from one parser's events, filling a SourceMap as it goes."""

    def __init__(self, text: str, file: str, parser: Any, lines: bool) -> None:
        self.file = file
        self._text = text
        self._keep_lines = lines
        self._next: Callable[[], Any] = parser.get_event
        self._peek: Callable[[], Any] = parser.peek_event
        self._implicit: dict[str, list[tuple[str, re.Pattern[str]]]]
        self._implicit = resolver_for(text).yaml_implicit_resolvers
        self._yaml_1_1 = is_yaml_1_1(text)
        self.lines: dict[YamlPath, int] = {}
        self.problems: list[Problem] = []
        self._anchors: dict[str, _Anchored] = {}
        self._captures: list[tuple[int, dict[YamlPath, int]]] = []
        self._count = 0

    def document(self) -> Document | None:
        self._next()  # StreamStart
        if type(self._peek()) is StreamEndEvent:
            return None
        start = self._next()  # DocumentStart
        first = self._next()
        reread = None if self._keep_lines else lambda: _lines_of(self._text, self.file)
        source = SourceMap(self.file, first.start_mark.line + 1, self.lines, reread)
        self.source = source
        data = self._value(first, ())
        self._next()  # DocumentEnd
        if type(self._peek()) is not StreamEndEvent:
            raise ComposerError(
                "expected a single document in the stream",
                start.start_mark,
                "but found another document",
                self._next().start_mark,
            )
        if data is None:
            return None
        source.root_line = first.start_mark.line + 1 if isinstance(data, dict | list) else 1
        return Document(data, source, self.problems)

    # ------------------------------------------------------------ values

    def _record(self, path: YamlPath, line: int) -> None:
        if not self._keep_lines:
            return
        self.lines[path] = line
        for start, lines in self._captures:
            lines[path[start:]] = line

    def _counted(self, amount: int) -> None:
        self._count += amount
        if self._count > MAX_VALUES:
            message = f"holds more than {MAX_VALUES:,} values once its aliases are expanded"
            raise CatalogError([Problem(self.file, None, "", message)])

    def _value(self, event: Any, path: YamlPath) -> Any:
        kind = type(event)
        if kind is AliasEvent:
            return self._alias(event, path)
        anchor: str | None = getattr(event, "anchor", None)
        if anchor is None:
            return self._fresh(event, kind, path)
        held = _Anchored(None, {}, 0)
        self._anchors[anchor] = held
        lines: dict[YamlPath, int] = {}
        self._captures.append((len(path), lines))
        before = self._count
        try:
            held.value = self._fresh(event, kind, path)
        finally:
            self._captures.pop()
        held.lines, held.count, held.open = lines, self._count - before, False
        return held.value

    def _fresh(self, event: Any, kind: type, path: YamlPath) -> Any:
        self._counted(1)
        if kind is ScalarEvent:
            return self._scalar(event)
        tag = getattr(event, "tag", None)
        if kind is SequenceStartEvent:
            if tag in MAPPING_TAGS:
                raise _wrong_node("a mapping", "sequence", event)
            return self._sequence(path)
        if kind is MappingStartEvent:
            if tag in SEQUENCE_TAGS:
                raise _wrong_node("a sequence", "mapping", event)
            return self._mapping(path)
        raise ComposerError(None, None, f"unexpected {kind.__name__}", event.start_mark)

    def _alias(self, event: Any, path: YamlPath) -> Any:
        held = self._held(event)
        if held.open:
            self.problems.append(self.source.problem(path, "refers to itself through an alias"))
            return None
        self._counted(held.count)
        for relative, line in held.lines.items():
            self._record(path + relative, line)
        return copy.deepcopy(held.value) if isinstance(held.value, dict | list) else held.value

    def _tag(self, event: Any) -> str:
        """The scalar's explicit tag, else the one its plain text resolves to (as a composer)."""
        tag: str | None = event.tag
        if tag is not None and tag != "!":
            return tag
        value: str = event.value
        if event.implicit[0]:
            for resolved, pattern in self._implicit.get(value[:1], ()):
                if pattern.match(value):
                    return str(resolved)
        return STR

    def _scalar(self, event: Any, tag: str | None = None) -> Any:
        try:
            return scalar_value(tag or self._tag(event), event.value, self._yaml_1_1)
        except (ScalarError, ValueError) as exc:
            line = event.start_mark.line + 1
            raise CatalogError(
                [Problem(self.file, line, "", f"cannot be read as YAML: {exc}")]
            ) from exc

    def _sequence(self, path: YamlPath) -> list[Any]:
        out: list[Any] = []
        while type(event := self._next()) is not SequenceEndEvent:
            child = (*path, len(out))
            self._record(child, event.start_mark.line + 1)
            out.append(self._value(event, child))
        return out

    def _mapping(self, path: YamlPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[Any, int] = {}
        merged: list[_Anchored] = []
        while type(key_event := self._next()) is not MappingEndEvent:
            line = key_event.start_mark.line + 1
            tag = self._tag(key_event) if type(key_event) is ScalarEvent else None
            if tag == MERGE:
                merged.extend(self._merge_sources(self._next()))
                continue
            key = self._key(key_event, tag)
            if isinstance(key, _Complex):
                self.problems.append(
                    Problem(
                        self.file,
                        line,
                        dotted(path),
                        "a key must be plain text, not a list or mapping",
                    )
                )
                self._discard(self._next())
                continue
            if key in seen:
                message = f"duplicate key {shown(str(key))}, first on line {seen[key]}; a key may appear once in a mapping"
                raise CatalogError([Problem(self.file, line, "", message)])
            seen[key] = line
            name = _key_text(key)
            child = (*path, name)
            if name in out:
                self.problems.append(
                    self.source.problem(child, "duplicate key; a key may appear once")
                )
                self._discard(self._next())
                continue
            self._record(child, line)
            out[name] = self._value(self._next(), child)
        if merged:
            self._merge(out, merged, path)
        return out

    # ------------------------------------------------------------ keys and merges

    def _key(self, event: Any, tag: str | None) -> Any:
        if type(event) is ScalarEvent:
            value = self._scalar(event, tag)
            if event.anchor is not None:
                self._anchors[event.anchor] = _Anchored(value, {}, 1, open=False)
            return value
        if type(event) is AliasEvent:
            held = self._held(event)
            return _Complex() if isinstance(held.value, dict | list) or held.open else held.value
        self._discard(event)
        return _Complex()

    def _merge_sources(self, event: Any) -> list[_Anchored]:
        """The mappings ``<<`` brings in, in order of precedence."""
        if type(event) is SequenceStartEvent:
            sources: list[_Anchored] = []
            while type(item := self._next()) is not SequenceEndEvent:
                sources.append(self._merge_source(item, "expected a mapping for merging"))
            return sources
        return [self._merge_source(event, "expected a mapping or list of mappings for merging")]

    def _merge_source(self, event: Any, expected: str) -> _Anchored:
        if type(event) is MappingStartEvent:
            lines: dict[YamlPath, int] = {}
            # An inline merged mapping records its lines relative to itself, as an anchor does.
            saved = self.lines, self._captures
            self.lines, self._captures = lines, []
            try:
                value = self._value(event, ())
            finally:
                self.lines, self._captures = saved
            return _Anchored(value, lines, 1, open=False)
        held = self._held(event) if type(event) is AliasEvent else None
        if held is not None and isinstance(held.value, dict) and not held.open:
            return held
        found = {ScalarEvent: "scalar", SequenceStartEvent: "sequence"}.get(type(event), "scalar")
        if held is not None:
            found = "sequence" if isinstance(held.value, list) else "scalar"
        raise ConstructorError(
            "while constructing a mapping", None, f"{expected}, but found {found}", event.start_mark
        )

    def _merge(self, out: dict[str, Any], sources: list[_Anchored], path: YamlPath) -> None:
        """Keys of ``sources`` not written in the mapping itself; the first source wins."""
        at = self.source.line(path) if self._keep_lines else 0  # lines read lazily, if asked
        for held in sources:
            self._counted(held.count)
            for name, value in held.value.items():
                if name in out:
                    continue
                out[name] = copy.deepcopy(value)
                self._record((*path, name), at)  # as ruamel: a merged key has no line of its own
                for relative, line in held.lines.items():
                    if len(relative) > 1 and relative[0] == name:
                        self._record(path + relative, line)

    def _held(self, alias: Any) -> _Anchored:
        """What the alias event ``alias`` stands for; an alias with no anchor is a YAML error."""
        held = self._anchors.get(alias.anchor)
        if held is None:
            mark = alias.start_mark
            raise ComposerError(None, None, f"found undefined alias {alias.anchor!r}", mark)
        return held

    def _discard(self, event: Any) -> None:
        """Read past one value whose lines must not count (a refused key and its value)."""
        saved = self.lines, self._captures
        self.lines, self._captures = {}, []
        problems = len(self.problems)
        try:
            self._value(event, ())
        finally:
            self.lines, self._captures = saved
            del self.problems[problems:]


def _wrong_node(expected: str, found: str, event: Any) -> ConstructorError:
    """``!!map [1]``: the tag asks for one kind of collection and the text is the other."""
    return ConstructorError(
        None, None, f"expected {expected} node, but found {found}", event.start_mark
    )


class _Complex:
    """A key that is a list or mapping."""


def _key_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, date):
        return key.isoformat()
    return str(key)
