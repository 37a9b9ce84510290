"""How the catalog loader read YAML before libyaml: ruamel.yaml's round-trip loader.

Kept as the oracle the new reader is compared with (tests/unit/test_catalog_yaml.py): the
same plain data, and the same line for every key and list item, for any document both read.
"""

from __future__ import annotations

import contextlib
import warnings
from datetime import date
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.scalarbool import ScalarBoolean

Lines = dict[tuple[str | int, ...], int]


def ruamel_read(text: str) -> tuple[Any, Lines]:
    """Plain data and lines of ``text`` as the ruamel.yaml reader made them (raises its errors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        document = YAML(typ="rt").load(text)
    lines: Lines = {}
    return _plain(document, (), lines, 1), lines


def _plain(node: Any, path: tuple[str | int, ...], lines: Lines, parent: int) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            line = parent
            if isinstance(node, CommentedMap):
                with contextlib.suppress(KeyError, TypeError, IndexError):  # a merged key
                    line = int(node.lc.key(key)[0]) + 1
            name = _key(key)
            if name in out:
                continue
            lines[(*path, name)] = line
            out[name] = _plain(value, (*path, name), lines, line)
        return out
    if isinstance(node, list):
        items: list[Any] = []
        for index, item in enumerate(node):
            line = int(node.lc.item(index)[0]) + 1 if isinstance(node, CommentedSeq) else parent
            lines[(*path, index)] = line
            items.append(_plain(item, (*path, index), lines, line))
        return items
    if isinstance(node, TaggedScalar):
        return None if node.value is None else str(node.value)
    if isinstance(node, bool | ScalarBoolean):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if node is None or isinstance(node, str | date):
        return node if not isinstance(node, str) else str(node)
    return str(node)


def _key(key: Any) -> str:
    if isinstance(key, TaggedScalar):
        key = key.value
    if isinstance(key, bool | ScalarBoolean):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, date):
        return key.isoformat()
    return str(key)
