"""paramedic's exceptions.

Every error a user can cause is a ``ParamedicError``; the command line prints
its message on one line and exits 2. Foreign exceptions (psycopg, redis,
botocore, OSError) are translated at the boundary with ``raise ... from exc``.

    ParamedicError
    ├── CatalogError          the catalog cannot be read or is invalid (carries every problem)
    ├── StoreError            the state store is unreachable or refuses a write
    ├── ProviderError         a provider could not carry out an action
    │   └── ProviderUnavailable   its optional dependency is not installed
    ├── NotFound              a component, incident or recovery point does not exist
    ├── Refused               a safety rule forbids the action (budget, lock, guard)
    │   └── Fenced            this agent lost its lease or the recovery: it must stand down
    └── NotBuiltYet           the capability is planned but not implemented in this version
"""

from __future__ import annotations

from dataclasses import dataclass


class ParamedicError(Exception):
    """Base of every error a user can cause; its message is one line."""


@dataclass(frozen=True)
class Problem:
    """One problem in a catalog, located at a file and line."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class CatalogError(ParamedicError):
    """The catalog cannot be loaded; ``problems`` lists every problem found, one line each."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class StoreError(ParamedicError):
    """The state store is unreachable or refused an operation."""


class ProviderError(ParamedicError):
    """A provider could not carry out an action."""


class ProviderUnavailable(ProviderError):
    """A provider's optional dependency is missing; the message names what to install."""


class NotFound(ParamedicError):
    """A named component, incident or recovery point does not exist."""


class Refused(ParamedicError):
    """A safety rule forbids the action (budget, one-recovery-at-a-time, drill guard)."""


class NotBuiltYet(ParamedicError):
    """The command exists in the contract but its capability is not built yet."""


class Fenced(Refused):
    """This agent's lease lapsed, or another agent took the recovery over: it must not act."""
