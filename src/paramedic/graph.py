"""The dependency graph of a catalog: order, blast radius, root cause, cycles."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DependencyGraph:
    """Components and their ``depends_on`` edges (unknown names are ignored here; the loader reports them)."""

    def __init__(self, depends_on: Mapping[str, Sequence[str]]) -> None:
        self._deps = {
            name: [d for d in deps if d in depends_on] for name, deps in depends_on.items()
        }
        self._dependents: dict[str, list[str]] = {name: [] for name in depends_on}
        for name, deps in self._deps.items():
            for dep in deps:
                self._dependents[dep].append(name)

    def dependencies(self, name: str) -> list[str]:
        """Direct dependencies of ``name``."""
        return list(self._deps.get(name, []))

    def dependents(self, name: str) -> list[str]:
        """Every component that depends on ``name``, directly or not (its blast radius), sorted."""
        seen: set[str] = set()
        stack = list(self._dependents.get(name, []))
        while stack:
            current = stack.pop()
            if current in seen or current == name:
                continue
            seen.add(current)
            stack.extend(self._dependents.get(current, []))
        return sorted(seen)

    def ancestors(self, name: str) -> set[str]:
        """Every component ``name`` depends on, directly or not."""
        seen: set[str] = set()
        stack = list(self._deps.get(name, []))
        while stack:
            current = stack.pop()
            if current in seen or current == name:
                continue
            seen.add(current)
            stack.extend(self._deps.get(current, []))
        return seen

    def find_cycle(self) -> list[str] | None:
        """One dependency cycle as a path that returns to its start (``[a, b, a]``), or None."""
        white, grey, black = 0, 1, 2
        colour = dict.fromkeys(self._deps, white)
        parent: dict[str, str] = {}
        for root in sorted(self._deps):
            if colour[root] != white:
                continue
            stack: list[tuple[str, int]] = [(root, 0)]
            colour[root] = grey
            while stack:
                node, index = stack[-1]
                deps = self._deps[node]
                if index < len(deps):
                    stack[-1] = (node, index + 1)
                    nxt = deps[index]
                    if colour[nxt] == grey:
                        path = [nxt]
                        walk = node
                        while walk != nxt:
                            path.append(walk)
                            walk = parent[walk]
                        path.append(nxt)
                        return list(reversed(path))
                    if colour[nxt] == white:
                        colour[nxt] = grey
                        parent[nxt] = node
                        stack.append((nxt, 0))
                else:
                    colour[node] = black
                    stack.pop()
        return None

    def order(self) -> list[str]:
        """Components with every dependency before its dependents (ties by name); needs no cycle."""
        done: list[str] = []
        placed: set[str] = set()
        remaining = sorted(self._deps)
        while remaining:
            ready = [n for n in remaining if all(d in placed for d in self._deps[n])]
            if not ready:
                raise ValueError(f"dependency cycle: {' -> '.join(self.find_cycle() or remaining)}")
            for n in ready:
                done.append(n)
                placed.add(n)
            remaining = [n for n in remaining if n not in placed]
        return done

    def failing_root(self, name: str, failing: set[str]) -> str | None:
        """The deepest failing dependency of ``name`` (its root cause), or None if none is failing."""
        seen: set[str] = set()
        frontier = [d for d in self._deps.get(name, []) if d in failing]
        root: str | None = None
        while frontier:
            current = frontier.pop(0)
            if current in seen:
                continue
            seen.add(current)
            root = current
            frontier.extend(d for d in self._deps.get(current, []) if d in failing)
        return root
