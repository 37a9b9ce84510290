"""IAM actions declared where AWS is called, and summed up the call graph.

A function that calls AWS says so beside its own code::

    @calls("rds:DescribeDBInstances")
    async def describe_instance(...): ...

    @calls("rds:DescribeDBInstanceAutomatedBackups", uses=(describe_instance,))
    async def native_window(...): ...

``actions_of(native_window)`` is then every action that function can reach: its own
and those of the functions it ``uses`` (transitively). A feature's IAM actions are
``actions_of`` the function carrying it out (``IAM_ACTIONS`` of each module), so an
action is written once, at the call site, and a helper used by three features (the
Route 53 UPSERT, the DB instance lookup) grants its calls to all three. The walk test
(``tests/integration/aws/test_permissions_walk.py``) records every call botocore makes
against moto and checks each one is granted, so a declaration that falls behind its
code fails there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_ATTRIBUTE = "__iam_actions__"


def calls(*actions: str, uses: Iterable[object] = ()) -> Callable[[F], F]:
    """Declare the IAM actions the decorated function calls itself, and the declared functions it uses."""
    reached = frozenset(actions).union(*(actions_of(part) for part in uses))

    def mark(function: F) -> F:
        setattr(function, _ATTRIBUTE, reached)
        return function

    return mark


def actions_of(*parts: object) -> tuple[str, ...]:
    """The sorted actions of declared functions (or methods) and plain action names in ``parts``.

    A function without a declaration is an error: it would grant nothing, silently.
    """
    found: set[str] = set()
    for part in parts:
        if isinstance(part, str):
            found.add(part)
            continue
        declared = getattr(part, _ATTRIBUTE, None)
        if declared is None:
            name = getattr(part, "__qualname__", repr(part))
            raise TypeError(f"{name} declares no IAM actions: decorate it with @calls(...)")
        found.update(declared)
    return tuple(sorted(found))


def declares(part: object) -> bool:
    """True when ``part`` carries a ``@calls`` declaration."""
    return getattr(part, _ATTRIBUTE, None) is not None
