"""``paramedic discover``: find the single-location components and keep the catalog true.

- ``aws``/``aws_*``: an AWS account, service by service, into findings.
- ``local``: this host's listening services.
- ``draft``: findings as catalog YAML with the source of every inferred value.
- ``drift``: a catalog against what was discovered.
- ``impact``: blast radius, the single points of failure that matter most first.
- ``watch``: the agent's scheduled drift check (``agent.drift_check``).
"""

from paramedic.discover.drift import Drift, find_drift
from paramedic.discover.finding import Discovery, Finding, LeftOut

__all__ = ["Discovery", "Drift", "Finding", "LeftOut", "find_drift"]
