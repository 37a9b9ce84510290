"""The JSON Schema of the catalog, for editors (completion, hover, early errors).

It is pydantic's schema of ``Catalog``, improved where pydantic cannot see
what the loader accepts: durations show their defaults as ``5s``, commands may
be written as one string, and ``spec`` is completed per provider through an
``if provider == X then spec: XSpec`` rule for every registered provider.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from paramedic.catalog.duration import format_duration
from paramedic.catalog.model import Catalog

DRAFT = "https://json-schema.org/draft/2020-12/schema"

# Inputs that "before" validators turn into the declared type, by validator name.
_INPUT_FORMS: dict[str, JsonSchemaValue] = {
    "_argv": {"type": "string", "description": "a command line, split like a shell would"},
    "HttpCheck._one_status": {"type": "integer"},
    "ProcessSpec._range": {"type": "string", "pattern": r"^\d+-\d+$"},
}


class _CatalogJsonSchema(GenerateJsonSchema):
    """pydantic's generator, told about durations and the forms ``before`` validators accept."""

    def encode_default(self, dft: Any) -> Any:
        """Defaults as the catalog writes them: durations like ``5s``."""
        if isinstance(dft, timedelta):
            return format_duration(dft)
        if isinstance(dft, dict):
            return {key: self.encode_default(value) for key, value in dft.items()}
        return super().encode_default(dft)

    def function_before_schema(
        self, schema: core_schema.BeforeValidatorFunctionSchema
    ) -> JsonSchemaValue:
        """The declared type, or also the shorter form the validator accepts (a command string)."""
        declared = super().function_before_schema(schema)
        function = schema["function"]["function"]
        name = getattr(function, "__qualname__", getattr(function, "__name__", ""))
        extra = _INPUT_FORMS.get(name)
        return {"anyOf": [declared, extra]} if extra is not None else declared


def catalog_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a catalog file, with ``spec`` per provider."""
    # Imported here: the registry imports the catalog models, which import this package.
    from paramedic.providers.registry import PROVIDERS

    infos = [PROVIDERS[name] for name in sorted(PROVIDERS)]
    models: list[tuple[type[BaseModel], Literal["validation"]]] = [(Catalog, "validation")]
    models.extend((info.spec_model, "validation") for info in infos)
    refs, top = models_json_schema(
        models, ref_template="#/$defs/{model}", schema_generator=_CatalogJsonSchema
    )
    defs: dict[str, Any] = dict(top.get("$defs", {}))
    catalog_ref = refs[(Catalog, "validation")]["$ref"].rsplit("/", 1)[-1]
    root = defs.pop(catalog_ref)
    root["properties"]["components"]["additionalProperties"] = False  # names must match the pattern
    component = defs["Component"]
    properties = component["properties"]
    properties["provider"] = {
        **properties["provider"],
        "enum": [info.name for info in infos],
        "description": "; ".join(f"{info.name}: {info.summary}" for info in infos),
    }
    component["allOf"] = [
        {
            "if": {"properties": {"provider": {"const": info.name}}, "required": ["provider"]},
            "then": {"properties": {"spec": refs[(info.spec_model, "validation")]}},
        }
        for info in infos
    ]
    return {"$schema": DRAFT, "title": "paramedic catalog", **_without_title(root), "$defs": defs}


def _without_title(schema: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in schema.items() if key not in ("title", "$defs")}
