"""Reading a catalog's YAML: what scalars mean, where each key is, and the refusals.

The reader runs on libyaml's C parser, or PyYAML's pure-Python one where libyaml is
missing; both must read every document as ruamel.yaml's round-trip loader did before them
(``ruamel_reference``), line numbers included.
"""

from __future__ import annotations

import io
import math
import re
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from paramedic.catalog import compose, load_catalog_text
from paramedic.catalog.compose import Document, read_yaml
from paramedic.errors import CatalogError
from tests.unit.ruamel_reference import ruamel_read
from tests.unit.test_catalog_loader import VALID
from tests.unit.test_catalog_properties import documents

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").rglob("*.yaml"))


@pytest.fixture(params=["libyaml", "pure-python"])
def parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each test twice: on libyaml's parser and on the pure-Python fallback."""
    if request.param == "pure-python":
        monkeypatch.setattr(compose, "FastParser", None)
    yield str(request.param)


def read(text: str) -> Document:
    document = read_yaml(text, "c.yaml")
    assert document is not None
    return document


def value_of(text: str) -> Any:
    return read(f"k: {text}\n").data["k"]


def refusal(text: str) -> str:
    with pytest.raises(CatalogError) as caught:
        load_catalog_text(text, "c.yaml")
    return str(caught.value)


def test_libyaml_serves_where_pyyaml_has_it() -> None:
    # The speed comes from here: a PyYAML wheel on Linux ships libyaml.
    assert yaml.__with_libyaml__
    assert compose.FastParser is not None


# ---------------------------------------------------------------- scalars, as ruamel read them


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # YAML 1.1's booleans and sexagesimal numbers stay text (ruamel reads YAML 1.2).
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("Yes", "Yes"),
        ("OFF", "OFF"),
        ("y", "y"),
        ("1:30", "1:30"),
        ("1:30.5", "1:30.5"),
        # durations are text for the duration parser
        ("5m", "5m"),
        ("1h", "1h"),
        ("500ms", "500ms"),
        ("true", True),
        ("True", True),
        ("FALSE", False),
        ("tRue", "tRue"),
        ("~", None),
        ("null", None),
        ("NULL", None),
        ("", None),
        ("nUll", "nUll"),
        ("017", 17),
        ("0o17", 15),
        ("0o8", "0o8"),
        ("0x1F", 31),
        ("0b101", 5),
        ("1_000", 1000),
        ("-0x1A", -26),
        ("+5", 5),
        ("1e3", 1000.0),
        ("1.", 1.0),
        (".5", 0.5),
        ("-.inf", -math.inf),
        ("2026-01-01", date(2026, 1, 1)),
        ("2026-01-01 10:00:00", datetime(2026, 1, 1, 10, 0)),
        ("2026-01-01T10:00:00Z", datetime(2026, 1, 1, 10, 0, tzinfo=UTC)),
        ("'yes'", "yes"),
        ('"1"', "1"),
        ("!!str 5", "5"),
        ("!!int '7'", 7),
        ("!!bool yes", True),
        ("!!float 1", 1.0),
        ("!secret s3", "s3"),
        ("<<", "<<"),
        ("=", "="),
    ],
)
def test_a_scalar_means_what_it_meant_to_ruamel(parser: str, text: str, expected: Any) -> None:
    got = value_of(text)
    assert got == expected and type(got) is type(expected)
    assert ruamel_read(f"k: {text}\n")[0]["k"] == expected


def test_nan_is_a_float(parser: str) -> None:
    assert math.isnan(value_of(".nan"))


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("yes", "yes"),
        ("1", "1"),
        ("0x1F", "31"),
        ("1e3", "1000.0"),
        ("~", "null"),
        ("true", "true"),
        ("2026-01-01", "2026-01-01"),
        ("'1'", "1"),
        ("!x k", "k"),
    ],
)
def test_a_key_is_named_as_ruamel_named_it(parser: str, key: str, name: str) -> None:
    assert list(read(f"{key}: v\n").data) == [name]


def test_a_yaml_1_1_document_gets_yaml_1_1_booleans(parser: str) -> None:
    assert read("%YAML 1.1\n---\nk: yes\nj: 017\n").data == {"k": True, "j": 15}


def test_a_catalog_duration_written_in_hours_stays_a_duration() -> None:
    text = VALID.replace("rto: 30s", "rto: 1h", 1)
    assert "rto: 1h" in text
    catalog = load_catalog_text(text, "c.yaml")
    assert {c.rto.total_seconds() for c in catalog.components.values()} >= {3600}


# ---------------------------------------------------------------- lines, anchors, merges


def test_every_key_and_item_has_its_line(parser: str) -> None:
    document = read("a:\n  b: 1\n  c:\n    - x\n    -\n      d: 2\ne: [1,\n  2]\n")
    assert document.source.lines == {
        ("a",): 1,
        ("a", "b"): 2,
        ("a", "c"): 3,
        ("a", "c", 0): 4,
        ("a", "c", 1): 6,
        ("a", "c", 1, "d"): 6,
        ("e",): 7,
        ("e", 0): 7,
        ("e", 1): 8,
    }
    assert document.source.root_line == 1


def test_merge_keys_and_aliases_expand_with_the_lines_ruamel_gave(parser: str) -> None:
    text = (
        "base: &base\n  rto: 30s\n  health:\n    check: tcp\n"
        "web:\n  <<: *base\n  rto: 1m\n"
        "list: [&one 1, *one]\n"
        "many:\n  <<: [*base, {extra: 2}]\n"
    )
    document = read(text)
    assert document.data["web"] == {"rto": "1m", "health": {"check": "tcp"}}
    assert document.data["list"] == [1, 1]
    assert document.data["many"] == {"rto": "30s", "health": {"check": "tcp"}, "extra": 2}
    data, lines = ruamel_read(text)
    assert document.data == data
    assert document.source.lines == lines
    # a merged key sits at its mapping's line; what is under it keeps its own line
    assert document.source.lines[("web", "health")] == 5
    assert document.source.lines[("web", "health", "check")] == 4


def test_an_anchor_used_twice_is_legal(parser: str) -> None:
    assert read("a: &x 1\nb: &x 2\nc: *x\n").data == {"a": 1, "b": 2, "c": 2}


def test_an_aliased_value_is_a_copy(parser: str) -> None:
    data = read("a: &x {k: [1]}\nb: *x\n").data
    data["b"]["k"].append(2)
    assert data["a"] == {"k": [1]}


def test_a_value_that_contains_itself_is_a_problem(parser: str) -> None:
    document = read("a: &a [1, *a]\n")
    assert [str(p) for p in document.problems] == [
        "c.yaml:1: a[1]: refers to itself through an alias"
    ]


def test_an_alias_bomb_is_refused(parser: str) -> None:
    rows = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    rows += [
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]" for i in range(6)
    ]
    assert refusal("\n".join(rows) + "\n") == (
        "c.yaml: holds more than 1,000,000 values once its aliases are expanded"
    )


def test_deep_nesting_is_refused_in_one_line(parser: str) -> None:
    assert refusal("k: " + "[" * 5000 + "]" * 5000 + "\n") == "c.yaml: nests too deeply to be read"


# ---------------------------------------------------------------- refusals


def test_a_duplicate_key_names_both_lines(parser: str) -> None:
    assert refusal("version: 1\ncomponents:\n  web: {}\n  db: {}\n  web: {}\n") == (
        "c.yaml:5: duplicate key 'web', first on line 3; a key may appear once in a mapping"
    )


def test_keys_equal_as_values_are_duplicates_as_in_ruamel(parser: str) -> None:
    assert refusal("1: a\n0x1: b\n") == (
        "c.yaml:2: duplicate key '1', first on line 1; a key may appear once in a mapping"
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("!!bool maybe", "!!bool needs true or false, not 'maybe'"),
        ("!!int", "invalid literal for int() with base 10: ''"),
        ("!!int foo", "invalid literal for int() with base 10: 'foo'"),
        ("!!float x", "could not convert string to float: 'x'"),
        ("!!timestamp x", 'failed to construct timestamp from "x"'),
    ],
)
def test_a_value_its_tag_refuses_is_one_located_line(parser: str, value: str, reason: str) -> None:
    # ruamel let the first two out as a KeyError and an IndexError traceback.
    assert refusal(f"version: 1\ncomponents:\n  web: {value}\n") == (
        f"c.yaml:3: cannot be read as YAML: {reason}"
    )


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (
            "m:\n  <<: 5\n",
            2,
            "expected a mapping or list of mappings for merging, but found scalar",
        ),
        ("a: [1]\nm:\n  <<: [*x]\n", 3, "found undefined alias 'x'"),
        ("k: !!map [1]\n", 1, "expected a mapping node, but found sequence"),
    ],
)
def test_what_cannot_be_built_says_so_at_its_line(
    parser: str, text: str, line: int, reason: str
) -> None:
    message = refusal(text)
    assert message.startswith(f"c.yaml:{line}: not valid YAML: ")
    assert message.endswith(f"; the parser says: {reason}")


def test_a_second_document_is_refused_by_both_parsers(parser: str) -> None:
    assert refusal("version: 1\n---\nversion: 1\n") == (
        "c.yaml:2: not valid YAML: a second document ('---'); a catalog is one document"
        " (line: '---'); the parser says: expected a single document in the stream, but found"
        " another document"
    )


@pytest.mark.parametrize("text", ["~\n", "--- \n...\n", "# only\n---\n"])
def test_a_document_without_a_value_is_none(parser: str, text: str) -> None:
    assert read_yaml(text, "c.yaml") is None


# ---------------------------------------------------------------- the same as ruamel, at large

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _dump(document: Any, flow: bool | None) -> str:
    writer = YAML(typ="rt")
    writer.default_flow_style = flow
    out = io.StringIO()
    writer.dump(document, out)
    return out.getvalue()


def _same_as_ruamel(text: str) -> None:
    if any(char in text for char in "\x85\u2028\u2029"):
        return  # line ends to YAML 1.1 (libyaml), not to 1.2 (ruamel): the lines may differ
    if re.search(r"[\[{,]\s*:\S", text):
        return  # `[:0]`: YAML 1.2 reads a plain `:0` in a flow collection, 1.1 (libyaml) refuses
    try:
        data, lines = ruamel_read(text)
    except Exception:  # the oracle refused it; only what it reads is compared
        return
    document = read_yaml(text, "c.yaml")
    if document is None:
        assert data is None
        return
    assert document.data == data
    assert document.source.lines == lines


@SETTINGS
@given(documents, st.sampled_from([None, True, False]))
def test_any_document_reads_as_ruamel_read_it(document: Any, flow: bool | None) -> None:
    _same_as_ruamel(_dump(document, flow))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_example_catalogs_read_as_ruamel_read_them(parser: str, path: Path) -> None:
    _same_as_ruamel(path.read_text())


def test_the_pure_python_parser_reads_what_libyaml_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = read(VALID)
    monkeypatch.setattr(compose, "FastParser", None)
    slow = read(VALID)
    assert (fast.data, fast.source.lines) == (slow.data, slow.source.lines)


# ---------------------------------------------------------------- speed and memory


def _catalog(n: int) -> str:
    block = (
        "  c{i:05d}:\n    type: application_server\n    rto: 5m\n    rpo: 0s\n"
        '    provider: process\n    spec: {{restart_command: ["true"]}}\n'
        '    health: {{check: http, url: "http://127.0.0.1:8080/c{i:05d}", '
        "interval: 10s, timeout: 2s, failures: 2}}\n"
        "    recovery: [{{strategy: restart_service}}]\n"
    )
    return "version: 1\ncomponents:\n" + "".join(block.format(i=i) for i in range(n))


def test_ten_thousand_components_load_in_seconds() -> None:
    text = _catalog(10_000)
    started = time.perf_counter()
    catalog = load_catalog_text(text, "big.yaml")
    elapsed = time.perf_counter() - started
    assert len(catalog.components) == 10_000
    # ~1.5 s here on libyaml; ruamel's pure-Python round trip took ~27 s. Generous bound.
    assert elapsed < 10, f"loading 10,000 components took {elapsed:.1f}s"


def test_reading_two_thousand_components_allocates_little_beyond_the_data() -> None:
    text = _catalog(2_000)
    tracemalloc.start()
    try:
        document = read_yaml(text, "big.yaml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert document is not None and len(document.data["components"]) == 2_000
    # ~5 MB here (the data; lines are read only if a problem asks); ruamel's round trip: 54 MB.
    assert peak < 20 * 2**20, f"reading 2,000 components peaked at {peak / 2**20:.0f} MB"
