"""Where each part of a catalog is written, and YAML errors in a user's words.

``compose.read_yaml`` fills a ``SourceMap`` with the line of every key and list item
while it turns the YAML into plain data, so every problem found later (by pydantic, by
the checks across the document) is reported at the line of the key that causes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from yaml import YAMLError
from yaml.error import MarkedYAMLError
from yaml.reader import ReaderError

from paramedic.errors import Problem
from paramedic.redact import redact

YamlPath = tuple[str | int, ...]
"""Where a value sits in the document: mapping keys and list indexes from the top."""

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")


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


class SourceMap:
    """The 1-based line of every key and list item of one document, by its path.

    ``reread``, when given, finds the lines on first need: a valid catalog never asks, so
    its read keeps no line map (a fifth of the read's memory at 10,000 components).
    """

    def __init__(
        self,
        file: str,
        root_line: int = 1,
        lines: dict[YamlPath, int] | None = None,
        reread: Callable[[], dict[YamlPath, int]] | None = None,
    ) -> None:
        self.file = file
        self.root_line = root_line
        self._lines = lines if lines is not None else {}
        self._reread = reread

    @property
    def lines(self) -> dict[YamlPath, int]:
        """Every path's line (read again now if this map was made without them)."""
        if self._reread is not None:
            reread, self._reread = self._reread, None
            self._lines.update(reread())
        return self._lines

    def line(self, path: YamlPath) -> int:
        """Line of ``path``, else of its nearest ancestor present (a missing key's mapping)."""
        lines = self.lines
        for end in range(len(path), 0, -1):
            found = lines.get(path[:end])
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


def yaml_error(exc: YAMLError, text: str, file: str) -> Problem:
    """The one located Problem a YAML parser's error ``exc`` on ``text`` is for a user."""
    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = _one_line(str(exc.problem or exc.context or "cannot be parsed"))
        if exc.context and reason.startswith("but "):
            reason = f"{_one_line(str(exc.context))}, {reason}"
        opened = exc.context_mark.line + 1 if exc.context_mark is not None else line
        plain = plain_yaml_error(f"{exc.context or ''} {reason}", opened)
        message = f"not valid YAML: {plain}{_quoted_line(text, line)}"
        return Problem(file, line, "", f"{message}; the parser says: {redact(reason)}")
    if isinstance(exc, ReaderError):
        line = text[: exc.position].count("\n") + 1
        char = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        return Problem(
            file, line, "", f"contains a character YAML does not allow ({char}); remove it"
        )
    reason = redact(_one_line(str(exc)))[:200]
    return Problem(file, None, "", f"cannot be read as YAML: {reason}")


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


def iter_items(value: Any) -> Iterator[tuple[int, Any]]:
    """``enumerate(value)`` when it is a list, else nothing (for checks on unvalidated data)."""
    if isinstance(value, list):
        yield from enumerate(value)
