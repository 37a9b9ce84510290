"""The two bases every catalog model builds on: strict models and health-check timing."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from paramedic.catalog.duration import Duration


class StrictModel(BaseModel):
    """Base of every catalog model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CheckBase(StrictModel):
    """Timing shared by every health check."""

    interval: Duration = timedelta(seconds=5)
    timeout: Duration = timedelta(seconds=2)
    failures: int = Field(
        2, ge=1, le=100, description="consecutive failed checks that open an incident"
    )
    successes: int = Field(
        1, ge=1, le=100, description="consecutive passed checks that prove recovery"
    )
    start_period: Duration = Field(
        timedelta(0),
        description="after paramedic starts the component's process, failed checks do not "
        "count for this long; a passed check ends it early (Docker's start_period)",
    )

    @model_validator(mode="after")
    def _positive(self) -> CheckBase:
        if self.interval <= timedelta(0):
            raise ValueError("interval must be above 0s")
        if self.timeout <= timedelta(0):
            raise ValueError("timeout must be above 0s")
        if self.start_period < timedelta(0):
            raise ValueError("start_period must be 0s or more")
        return self

    @property
    def worst_case_detect(self) -> timedelta:
        """Longest time from a failure to its detection: ``interval × failures + timeout``."""
        return self.interval * self.failures + self.timeout
