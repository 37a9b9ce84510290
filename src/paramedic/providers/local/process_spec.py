"""The ``spec`` of a component run by the ``process`` provider, and what that provider can do."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import Field, field_validator, model_validator

from paramedic.catalog.duration import Duration
from paramedic.catalog.model import Argv, ComponentType, StrategyName, _argv
from paramedic.providers.base import ProviderInfo, SpecModel


class ProcessSpec(SpecModel):
    """A process paramedic owns (``command``) or one it drives through ``restart_command``."""

    command: Argv | None = Field(None, description="argv of the process paramedic owns")
    shell: bool = Field(
        False, description="run command[0] through /bin/sh -c (a string command is kept whole)"
    )
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    stop_signal: str = Field("SIGTERM", pattern=r"^SIG[A-Z0-9]+$")
    stop_grace: Duration = Field(
        timedelta(seconds=10), description="wait after stop_signal before SIGKILL"
    )
    template_dir: str | None = Field(
        None, description="replace_instance resets cwd from this folder"
    )
    port: int | None = Field(
        None, ge=1, le=65535, description="port of the primary instance ($PORT)"
    )
    port_range: tuple[int, int] | None = Field(
        None, description="scale_out takes ports from [first, last]"
    )
    restart_command: Argv | None = None
    start_command: Argv | None = None
    stop_command: Argv | None = None

    _split = field_validator(
        "command", "restart_command", "start_command", "stop_command", mode="before"
    )(_argv)

    @model_validator(mode="before")
    @classmethod
    def _shell_line_whole(cls, data: Any) -> Any:
        """With ``shell``, a string command is one shell line: keep it whole, do not split it."""
        shell_line = isinstance(data, dict) and isinstance(data.get("command"), str)
        if shell_line and data.get("shell") is True:
            return {**data, "command": [data["command"]]}
        return data

    @field_validator("port_range", mode="before")
    @classmethod
    def _range(cls, value: Any) -> Any:
        if isinstance(value, str) and "-" in value:
            first, _, last = value.partition("-")
            return (int(first), int(last))
        return value

    @model_validator(mode="after")
    def _owned_or_driven(self) -> ProcessSpec:
        if self.command is None and self.restart_command is None and self.start_command is None:
            raise ValueError(
                "give command (a process paramedic owns) or restart_command/start_command"
            )
        if self.port_range is not None and self.port_range[0] > self.port_range[1]:
            raise ValueError("port_range must be FIRST-LAST with FIRST <= LAST")
        return self


INFO = ProviderInfo(
    name="process",
    summary="a local process paramedic owns, or one it drives through start/stop/restart commands",
    types=frozenset(ComponentType),
    strategies=frozenset(
        {
            StrategyName.restart_service,
            StrategyName.replace_instance,
            StrategyName.scale_out,
            StrategyName.run,
        }
    ),
    spec_model=ProcessSpec,
    faults=("kill", "hang", "exit", "port-squat"),
    checks=frozenset({"process"}),
    implementation="paramedic.providers.local.process:ProcessProvider",
    host_bound=True,
)
