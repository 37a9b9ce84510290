"""The agent, ``paramedic run``: a small core and one module per long-running concern."""

from paramedic.agent.core import Agent, run_agent
from paramedic.agent.watching import claim_lease

__all__ = ["Agent", "claim_lease", "run_agent"]
