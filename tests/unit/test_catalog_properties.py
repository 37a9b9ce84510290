"""Whatever the text, loading either succeeds or raises CatalogError with one-line problems."""

from __future__ import annotations

import copy
import io
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from paramedic.catalog import load_catalog_text
from paramedic.errors import CatalogError
from tests.unit.test_catalog_loader import VALID

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_WORDS = [
    "version",
    "components",
    "web",
    "health",
    "check",
    "http",
    "interval",
    "2s",
    "provider",
    "process",
    "spec",
    "recovery",
    "strategy",
    "depends_on",
    "1",
]
keys = st.one_of(st.sampled_from(_WORDS), st.text(max_size=12), st.integers(-3, 3))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from([*_WORDS, "500ms", "-1s", "0s", "2026-01-01", "redis://x", ""]),
    st.text(max_size=20),
)
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)


def _dump(document: Any, flow: bool | None = None) -> str:
    yaml = YAML(typ="rt")
    yaml.default_flow_style = flow
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _load(text: str) -> CatalogError | None:
    """None when ``text`` loads; the CatalogError otherwise (any other exception fails the test)."""
    try:
        load_catalog_text(text, "p.yaml")
    except CatalogError as exc:
        assert exc.problems, "a CatalogError must carry at least one problem"
        for problem in exc.problems:
            assert "\n" not in str(problem)
            assert str(problem).startswith("p.yaml")
        return exc
    return None


@SETTINGS
@given(documents, st.sampled_from([None, True, False]))
def test_any_yaml_document_loads_or_raises_catalog_error(document: Any, flow: bool | None) -> None:
    _load(_dump(document, flow))


@SETTINGS
@given(st.dictionaries(st.sampled_from(_WORDS), documents, max_size=4))
def test_any_catalog_shaped_document_loads_or_raises_catalog_error(top: dict[str, Any]) -> None:
    _load(_dump({"version": 1, **top}))


@SETTINGS
@given(
    st.text(alphabet=st.sampled_from(list("ab1:-[]{}#&*!|>'\"% \n\t,?@`\x00\x85é")), max_size=80)
)
def test_any_text_loads_or_raises_catalog_error(text: str) -> None:
    _load(text)


@SETTINGS
@given(st.text(max_size=200))
def test_any_unicode_text_loads_or_raises_catalog_error(text: str) -> None:
    _load(text)


# ---------------------------------------------------------------- mutated valid catalogs

_BASE = YAML(typ="rt").load(VALID)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            found.extend(_paths(value, (*path, key)))
    elif isinstance(node, CommentedSeq):
        for index, value in enumerate(node):
            found.extend(_paths(value, (*path, index)))
    return found


PATHS = _paths(_BASE)
printable = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=15)
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from(_WORDS), printable),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(printable, inner, max_size=3),
    max_leaves=8,
)
mutations = st.one_of(
    st.tuples(st.just("delete"), st.none()),
    st.tuples(st.just("replace"), values),
    st.tuples(st.just("add"), st.tuples(printable, values)),
    st.tuples(st.just("rename"), printable),
)


def _mutate(document: Any, path: tuple[Any, ...], kind: str, arg: Any) -> None:
    parent = document
    for segment in path[:-1]:
        parent = parent[segment]
    last = path[-1]
    if kind == "delete":
        del parent[last]
    elif kind == "replace":
        parent[last] = arg
    elif kind == "add":
        target = parent[last]
        if isinstance(target, dict):
            target[arg[0]] = arg[1]
        else:
            parent[last] = {arg[0]: arg[1]}
    elif isinstance(parent, CommentedMap):  # rename a key
        if arg not in parent:
            parent.insert(list(parent).index(last), arg, parent.pop(last))
    else:
        parent[last] = arg


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), mutations), min_size=1, max_size=3))
def test_mutated_catalog_problems_all_have_lines(
    changes: list[tuple[tuple[Any, ...], tuple[str, Any]]],
) -> None:
    document = copy.deepcopy(_BASE)
    for path, (kind, arg) in changes:
        try:
            _mutate(document, path, kind, arg)
        except (KeyError, IndexError, TypeError, ValueError):
            continue  # an earlier change removed or reshaped this path
    error = _load(_dump(document))
    if error is not None:
        assert all(p.line is not None for p in error.problems), str(error)


def test_the_unmutated_catalog_loads() -> None:
    assert _load(_dump(copy.deepcopy(_BASE))) is None
