"""pydantic's validation errors, told the way a catalog's author reads them.

Each error's ``loc`` is walked alongside the model it came from: dict keys
and list indexes stay in the YAML path, while the tags that discriminated
unions insert (``("health", "http", "interval")``) are dropped. The model
found at the end of the walk gives the expected keys, enum values and tags.
"""

from __future__ import annotations

import difflib
import re
import types
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from paramedic.catalog.duration import DURATION_MESSAGE
from paramedic.catalog.model import NAME_PATTERN
from paramedic.catalog.source import SourceMap, YamlPath, shown
from paramedic.errors import Problem

_TYPE_MESSAGES = {
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "set_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "timedelta_type": DURATION_MESSAGE,
    "timedelta_parsing": DURATION_MESSAGE,
}

_PATTERN_MESSAGES = {
    NAME_PATTERN: "must be a name of letters, digits, '.', '_' or '-' that starts with a "
    "letter or digit (at most 63 characters)",
    r"^https?://": "must be an http:// or https:// URL",
    r"^postgres(ql)?://": "must be a postgresql:// URL",
    r"^rediss?://": "must be a redis:// or rediss:// URL",
    r"^SIG[A-Z0-9]+$": "must be a signal name like SIGTERM",
}

_QUOTED = re.compile(r"'([^']*)'")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean 'interval'?"`` when a choice is close to ``word``, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def validation_problems(
    exc: ValidationError, root: type[BaseModel], source: SourceMap, prefix: YamlPath = ()
) -> list[Problem]:
    """One Problem per error in ``exc``, from validating ``root`` at ``prefix`` in the file."""
    return [_problem(error, root, source, prefix) for error in exc.errors()]


def _problem(
    error: ErrorDetails, root: type[BaseModel], source: SourceMap, prefix: YamlPath
) -> Problem:
    loc = tuple(error["loc"])
    path, target = _walk(root, loc)
    path = (*prefix, *path)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        _, parent = _walk(root, loc[:-1])
        fields = sorted(parent.model_fields) if _is_model(parent) else []
        key = str(loc[-1]) if loc else ""
        message = f"unknown key; expected one of: {', '.join(fields)}{did_you_mean(key, fields)}"
        return source.problem(path, message)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag_key = str(ctx.get("discriminator", "")).strip("'")
        tags = _union_tags(target, tag_key) or _QUOTED.findall(str(ctx.get("expected_tags", "")))
        expected = ", ".join(tags)
        if kind == "union_tag_not_found":
            return source.problem((*path, tag_key), f"is required; one of: {expected}")
        message = f"unknown {tag_key} {shown(str(ctx.get('tag')))}; expected one of: {expected}"
        return source.problem((*path, tag_key), message)
    if kind in ("value_error", "assertion_error"):
        return _value_problem(error, target, source, path)
    return source.problem(path, _message(error, target, path))


def _value_problem(error: ErrorDetails, target: Any, source: SourceMap, path: YamlPath) -> Problem:
    """A validator's own message; "interval must be..." on a model moves to the ``interval`` key."""
    cause = (error.get("ctx") or {}).get("error")
    message = str(cause) if cause is not None else error["msg"]
    if _is_model(target):
        first, _, rest = message.partition(" ")
        if first in target.model_fields and rest:
            return source.problem((*path, first), rest)
    return source.problem(path, message)


def _message(error: ErrorDetails, target: Any, path: YamlPath) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "is required"
    if kind in _TYPE_MESSAGES:
        base = _TYPE_MESSAGES[kind]
        return f"{base}, not empty" if error.get("input") is None else base
    if kind in ("enum", "literal_error"):
        choices = _choices(target) or _QUOTED.findall(str(ctx.get("expected", "")))
        if len(choices) == 1:
            return f"must be {choices[0]}"
        return f"must be one of: {', '.join(choices)}"
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        return _PATTERN_MESSAGES.get(pattern, f"must match the pattern {pattern}")
    if kind in ("too_short", "string_too_short"):
        least = int(ctx.get("min_length", 1))
        if path == ("components",):
            return "must name at least one component"
        if least == 1:
            return "must not be empty"
        unit = "characters" if kind == "string_too_short" else "items"
        return f"must have at least {least} {unit}"
    if kind in ("too_long", "string_too_long"):
        unit = "characters" if kind == "string_too_long" else "items"
        return f"must have at most {ctx.get('max_length')} {unit}"
    bounds = {
        "greater_than_equal": ("must be at least", "ge"),
        "greater_than": ("must be above", "gt"),
        "less_than_equal": ("must be at most", "le"),
        "less_than": ("must be below", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return f"{words} {ctx.get(key)}"
    text = error["msg"]
    return text[:1].lower() + text[1:]


def _walk(root: Any, loc: Sequence[Any]) -> tuple[YamlPath, Any]:
    """The YAML path of a pydantic ``loc`` (union tags dropped) and the type found at its end."""
    path: list[str | int] = []
    current: Any = root
    for segment in loc:
        current = _unwrap(current)
        if segment == "[key]":
            current = None
            continue
        members = _union_members(current)
        if members:
            chosen = _member_for(members, segment)
            if chosen is not None:
                current = chosen
                continue
        path.append(segment)
        current = _child(current, segment)
    return tuple(path), _unwrap(current)


def _child(current: Any, segment: Any) -> Any:
    if _is_model(current):
        info = current.model_fields.get(str(segment))
        return info.annotation if info is not None else None
    origin = get_origin(current)
    args = get_args(current)
    if origin is dict and len(args) == 2:
        return args[1]
    if origin in (list, set, frozenset) and args:
        return args[0]
    if origin is tuple and args:
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
        if isinstance(segment, int) and 0 <= segment < len(args):
            return args[segment]
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``| None``; a union of several models is returned as it is."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _union_members(annotation: Any) -> list[type[BaseModel]]:
    if get_origin(annotation) not in (Union, types.UnionType):
        return []
    members = [_unwrap(a) for a in get_args(annotation) if a is not type(None)]
    return [m for m in members if _is_model(m)]


def _member_for(members: list[type[BaseModel]], segment: Any) -> type[BaseModel] | None:
    """The union member a loc segment names: by its discriminator tag, or by its class name."""
    for member in members:
        if segment == member.__name__:
            return member
        for info in member.model_fields.values():
            if get_origin(info.annotation) is Literal and segment in get_args(info.annotation):
                return member
    return None


def _union_tags(annotation: Any, tag_key: str) -> list[str]:
    tags: list[str] = []
    for member in _union_members(annotation):
        info = member.model_fields.get(tag_key)
        if info is not None and get_origin(info.annotation) is Literal:
            tags.extend(str(v) for v in get_args(info.annotation))
    return tags


def _choices(annotation: Any) -> list[str]:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(member.value) for member in annotation]
    if get_origin(annotation) is Literal:
        return [str(value) for value in get_args(annotation)]
    return []


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
