"""The catalog: what paramedic watches and how it recovers it, loaded from YAML with lines."""

from paramedic.catalog.duration import Duration, format_duration, parse_duration
from paramedic.catalog.loader import load_catalog, load_catalog_text
from paramedic.catalog.model import (
    Agent,
    Backup,
    BackupEngine,
    Budget,
    Catalog,
    Component,
    ComponentType,
    Criticality,
    Drills,
    Event,
    Flapping,
    HealthCheck,
    NotifyRoute,
    Strategy,
    StrategyName,
)
from paramedic.catalog.schema import catalog_schema

__all__ = [
    "Agent",
    "Backup",
    "BackupEngine",
    "Budget",
    "Catalog",
    "Component",
    "ComponentType",
    "Criticality",
    "Drills",
    "Duration",
    "Event",
    "Flapping",
    "HealthCheck",
    "NotifyRoute",
    "Strategy",
    "StrategyName",
    "catalog_schema",
    "format_duration",
    "load_catalog",
    "load_catalog_text",
    "parse_duration",
]
