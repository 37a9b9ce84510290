"""Catalog settings of the agent's face: the HTTP API (``api:``) and per-component alert intake (``alerts:``)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from paramedic.catalog.base import StrictModel

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class ApiSettings(StrictModel):
    """``api:``: where ``paramedic run`` serves the HTTP API, dashboard and /metrics."""

    listen: str | None = Field(
        None, description="HOST:PORT to serve on (``paramedic run --listen`` overrides it)"
    )
    token_file: str | None = Field(
        None,
        description="file holding the bearer token writes need (default: PARAMEDIC_API_TOKEN, "
        "else a random token written to RUN_DIR/api-token at start)",
    )
    tls_cert: str | None = Field(None, description="PEM certificate: serve HTTPS")
    tls_key: str | None = Field(None, description="PEM private key of tls_cert")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        if value is not None:
            from paramedic.api.listen import parse_listen

            parse_listen(value)
        return value

    @model_validator(mode="after")
    def _tls_pair(self) -> ApiSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("give both tls_cert and tls_key, or neither")
        return self


class AlertSettings(StrictModel):
    """``alerts:``: which Alertmanager alerts speak for this component, and what a firing one does."""

    matchers: dict[str, str] = Field(
        default_factory=dict,
        description='labels an alert must carry (default: paramedic_component: "<name>")',
    )
    action: Literal["check", "recover"] = Field(
        "check",
        description="check: check the component at once; recover: a firing alert opens the "
        "incident itself (recovery is verified by the check passing and the alert resolving)",
    )

    @field_validator("matchers")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not LABEL_NAME.match(name):
                raise ValueError(f"{name!r} is not a Prometheus label name like severity")
        return value

    def matches(self, component: str, labels: dict[str, str]) -> bool:
        """True when ``labels`` carry every matcher (the default one when none is given)."""
        wanted = self.matchers or {"paramedic_component": component}
        return all(labels.get(k) == v for k, v in wanted.items())
