"""The dependency graph: order, blast radius, root cause, cycles."""

from __future__ import annotations

import pytest

from paramedic.graph import DependencyGraph

# web -> api -> (db, cache); worker -> db; report stands alone
SHOP = {
    "web": ["api"],
    "api": ["db", "cache"],
    "worker": ["db"],
    "db": [],
    "cache": [],
    "report": [],
}


def test_order_puts_every_dependency_before_its_dependents_ties_by_name() -> None:
    assert DependencyGraph(SHOP).order() == ["cache", "db", "report", "api", "worker", "web"]


def test_dependencies_are_the_direct_ones_only() -> None:
    graph = DependencyGraph(SHOP)
    assert graph.dependencies("web") == ["api"]
    assert graph.dependencies("api") == ["db", "cache"]
    assert graph.dependencies("missing") == []


def test_dependents_is_the_whole_blast_radius_sorted() -> None:
    graph = DependencyGraph(SHOP)
    assert graph.dependents("db") == ["api", "web", "worker"]
    assert graph.dependents("cache") == ["api", "web"]
    assert graph.dependents("web") == []
    assert graph.dependents("report") == []


def test_unknown_dependency_names_are_ignored() -> None:
    graph = DependencyGraph({"web": ["ghost", "db"], "db": []})
    assert graph.dependencies("web") == ["db"]
    assert graph.order() == ["db", "web"]
    assert graph.find_cycle() is None


def test_no_cycle_in_an_acyclic_graph() -> None:
    assert DependencyGraph(SHOP).find_cycle() is None


def test_find_cycle_returns_a_path_back_to_its_start() -> None:
    graph = DependencyGraph({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]})
    assert graph.find_cycle() == ["a", "b", "c", "a"]


def test_find_cycle_sees_a_self_dependency() -> None:
    assert DependencyGraph({"a": ["a"]}).find_cycle() == ["a", "a"]


def test_find_cycle_finds_a_cycle_reached_only_through_an_acyclic_part() -> None:
    graph = DependencyGraph({"a": ["b"], "b": ["c"], "c": ["d"], "d": ["c"]})
    assert graph.find_cycle() == ["c", "d", "c"]


def test_order_refuses_a_cycle_and_names_it() -> None:
    graph = DependencyGraph({"a": ["b"], "b": ["a"], "c": []})
    with pytest.raises(ValueError) as caught:
        graph.order()
    assert str(caught.value) == "dependency cycle: a -> b -> a"


def test_failing_root_is_the_deepest_failing_dependency() -> None:
    graph = DependencyGraph(SHOP)
    assert graph.failing_root("web", {"api", "db"}) == "db"
    assert graph.failing_root("web", {"api"}) == "api"


def test_failing_root_ignores_failures_below_a_healthy_dependency() -> None:
    graph = DependencyGraph(SHOP)
    # api is healthy, so db failing does not block web through it
    assert graph.failing_root("web", {"db"}) is None
    assert graph.failing_root("worker", {"db"}) == "db"


def test_failing_root_is_none_when_nothing_it_needs_fails() -> None:
    graph = DependencyGraph(SHOP)
    assert graph.failing_root("web", set()) is None
    assert graph.failing_root("db", {"db"}) is None


def test_failing_root_terminates_on_a_failing_cycle() -> None:
    graph = DependencyGraph({"a": ["b"], "b": ["c"], "c": ["b"]})
    assert graph.failing_root("a", {"b", "c"}) in {"b", "c"}
