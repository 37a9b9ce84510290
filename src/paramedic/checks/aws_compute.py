"""Probes of AWS check kinds (to be built: until then none is registered and a check reports it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from paramedic.checks.probe import ProbeContext, Verdict

PROBES: dict[str, Callable[[Any, ProbeContext], Awaitable[Verdict]]] = {}
"""Check kind -> probe; registered by paramedic.checks.registry."""
