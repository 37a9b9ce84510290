"""What a YAML scalar means in a catalog: the rules ruamel.yaml's round-trip loader applies.

The catalog was read with ruamel.yaml (YAML 1.2) before libyaml took over the parsing, so
these rules keep every catalog meaning what it meant then: ``yes``/``no``/``on``/``off``
and ``1:30`` stay text (YAML 1.1, PyYAML's default, would make them booleans and
numbers), ``017`` is seventeen, ``0o17`` fifteen, ``1e3`` a float. A document that starts
with ``%YAML 1.1`` gets the 1.1 rules, as ruamel gives it.

    resolver_for(text)                 # the implicit-tag resolver a parser mixes in
    scalar_value(tag, text, yaml_1_1)  # -> None, bool, int, float, str, date or datetime
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

from yaml import ScalarNode
from yaml.constructor import SafeConstructor
from yaml.resolver import BaseResolver, Resolver

TAG = "tag:yaml.org,2002:"
NULL, BOOL, INT, FLOAT, STR = f"{TAG}null", f"{TAG}bool", f"{TAG}int", f"{TAG}float", f"{TAG}str"
TIMESTAMP, MERGE = f"{TAG}timestamp", f"{TAG}merge"
MAPPING_TAGS = frozenset({f"{TAG}map", f"{TAG}set"})
SEQUENCE_TAGS = frozenset({f"{TAG}seq", f"{TAG}omap", f"{TAG}pairs"})
SCALAR_TAGS = frozenset({NULL, BOOL, INT, FLOAT, TIMESTAMP, f"{TAG}binary"})

_BOOLS = {"yes": True, "no": False, "y": True, "n": False, "true": True, "false": False}
_BOOLS |= {"on": True, "off": False}
_YAML_1_1 = re.compile(r"\A(?:[ \t]*(?:#[^\n]*)?\r?\n|%(?!YAML)[^\n]*\n)*%YAML[ \t]+1\.1\b")
_TIMESTAMPS = SafeConstructor()


class ScalarError(ValueError):
    """A scalar its explicit tag cannot make sense of (``!!int foo``); the text says why."""


class Resolver12(BaseResolver):
    """Implicit tags of YAML 1.2's core schema, as ruamel.yaml resolves plain scalars."""


# Patterns and first characters as ruamel.yaml's VersionedResolver has them for 1.2.
for _tag, _pattern, _first in (
    (BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (
        FLOAT,
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        "-+0123456789.",
    ),
    (
        INT,
        r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$",
        "-+0123456789",
    ),
    (MERGE, r"^(?:<<)$", "<"),
    (NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (
        TIMESTAMP,
        r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
        |[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?
        (?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?
        (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""",
        "0123456789",
    ),
):
    Resolver12.add_implicit_resolver(_tag, re.compile(_pattern, re.X), list(_first))


def is_yaml_1_1(text: str) -> bool:
    """True when ``text`` opens with a ``%YAML 1.1`` directive (after comments and blanks)."""
    return _YAML_1_1.match(text) is not None


def resolver_for(text: str) -> type[BaseResolver]:
    """The resolver for ``text``: YAML 1.1's (PyYAML's own) under ``%YAML 1.1``, else 1.2's."""
    return Resolver if is_yaml_1_1(text) else Resolver12


def scalar_value(tag: str, text: str, yaml_1_1: bool = False) -> Any:
    """The value of scalar ``text`` by its resolved or explicit ``tag``; ScalarError if none.

    A tag the catalog has no use for (``!secret x``, ``!!binary``) leaves the text as it is
    written, as ruamel.yaml's tagged scalars did.
    """
    if tag == STR:
        return text
    if tag == NULL:
        return None
    if tag == BOOL:
        try:
            return _BOOLS[text.lower()]
        except KeyError:
            raise ScalarError(f"!!bool needs true or false, not {text!r}") from None
    if tag == INT:
        return _int(text, yaml_1_1)
    if tag == FLOAT:
        return _float(text, yaml_1_1)
    if tag == TIMESTAMP:
        if _TIMESTAMPS.timestamp_regexp.match(text) is None:
            raise ScalarError(f'failed to construct timestamp from "{text}"')
        stamp: date = _TIMESTAMPS.construct_yaml_timestamp(ScalarNode(tag, text))
        return stamp
    if tag in MAPPING_TAGS:
        raise ScalarError("expected a mapping node, but found scalar")
    if tag in SEQUENCE_TAGS:
        raise ScalarError("expected a sequence node, but found scalar")
    return text


def _signed(text: str) -> tuple[int, str]:
    digits = text.replace("_", "")
    if digits[:1] in ("-", "+"):
        return (-1 if digits[0] == "-" else 1), digits[1:]
    return 1, digits


def _int(text: str, yaml_1_1: bool) -> int:
    sign, digits = _signed(text)
    for prefix, base in (("0b", 2), ("0x", 16), ("0o", 8)):
        if digits.startswith(prefix):
            return sign * int(digits[2:], base)
    if yaml_1_1 and ":" in digits:
        return sign * _sexagesimal(digits)
    if yaml_1_1 and len(digits) > 1 and digits[0] == "0":
        return sign * int(digits, 8)
    return sign * int(digits)


def _float(text: str, yaml_1_1: bool) -> float:
    sign, digits = _signed(text.lower())
    if digits == ".inf":
        return sign * math.inf
    if digits == ".nan":
        return math.nan
    if yaml_1_1 and ":" in digits:
        whole, _, fraction = digits.rpartition(".")
        return sign * (_sexagesimal(whole) + float(f"0.{fraction or 0}"))
    return sign * float(digits)


def _sexagesimal(digits: str) -> int:
    value = 0
    for part in digits.split(":"):
        value = value * 60 + int(part)
    return value
