"""Providers by name: their declared capabilities, and their implementations once built."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from paramedic.errors import NotBuiltYet, NotFound, ProviderUnavailable
from paramedic.providers.aws import compute_specs
from paramedic.providers.aws import data_specs as aws_data_specs
from paramedic.providers.base import Provider, ProviderInfo
from paramedic.providers.local import data_specs, process_spec

if TYPE_CHECKING:
    from paramedic.catalog.model import Catalog

PROVIDERS: dict[str, ProviderInfo] = {
    info.name: info
    for info in (
        process_spec.INFO,
        data_specs.POSTGRES,
        data_specs.REDIS,
        data_specs.FILES,
        data_specs.HAPROXY,
        compute_specs.EC2,
        compute_specs.ASG,
        aws_data_specs.RDS,
        aws_data_specs.ELASTICACHE,
    )
}


def provider_info(name: str) -> ProviderInfo:
    """The declared capabilities of provider ``name``; NotFound names the known ones."""
    try:
        return PROVIDERS[name]
    except KeyError:
        known = ", ".join(sorted(PROVIDERS))
        raise NotFound(f"unknown provider {name!r}; known providers: {known}") from None


def build_provider(catalog: Catalog, component_name: str) -> Provider:
    """Instantiate the provider of one component; says plainly when it is not built or not installed."""
    component = catalog.components[component_name]
    info = provider_info(component.provider)
    if info.implementation is None:
        raise NotBuiltYet(
            f"provider {info.name!r} (component {component_name!r}) is not built yet in this version"
        )
    for module in info.requires:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ProviderUnavailable(
                f"provider {info.name!r} needs the Python package {module!r}: pip install {module}"
            ) from exc
    module_name, _, class_name = info.implementation.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    provider: Provider = cls(catalog=catalog, name=component_name)
    return provider
