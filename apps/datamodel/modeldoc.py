"""A whole data model as one JSON document: import (API, `manage.py datamodel_import`)
and export. Import is idempotent: entities and attributes that already exist with the
same definition are kept; missing ones are added; a conflicting definition is an error
that names the place."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.core.inputs import has_surrogate
from apps.tenants.models import Workspace

from . import services
from .models import AddressMapping, Entity, Relationship

DOC_KEYS = {"entities", "relationships", "addresses", "version"}


def model_export(*, workspace: Workspace) -> dict[str, Any]:
    entities = Entity.objects.filter(workspace=workspace).prefetch_related("attributes").order_by("id")
    doc: dict[str, Any] = {"version": 1, "entities": [], "relationships": [], "addresses": {}}
    for entity in entities:
        attrs = list(entity.attributes.all())
        pk = next(a for a in attrs if a.is_primary_key)
        doc["entities"].append({
            "key": entity.key, "label": entity.label, "description": entity.description,
            "profile": entity.is_profile,
            **({"display_attribute": entity.display_attribute} if entity.display_attribute else {}),
            "primary_key": {"key": pk.key, "label": pk.label, "type": pk.type},
            "attributes": [_attr_doc(a) for a in attrs if not a.is_primary_key],
        })
    for rel in Relationship.objects.filter(workspace=workspace).select_related("source", "target", "attribute"):
        doc["relationships"].append({
            "source": rel.source.key, "attribute": rel.attribute.key, "target": rel.target.key,
            "key": rel.key, "reverse_key": rel.reverse_key, "kind": rel.kind,
            "label": rel.label, "reverse_label": rel.reverse_label,
        })
    for mapping in AddressMapping.objects.filter(workspace=workspace).select_related("attribute"):
        doc["addresses"][mapping.role] = mapping.attribute.key
    return doc


def _attr_doc(attribute) -> dict[str, Any]:
    out: dict[str, Any] = {"key": attribute.key, "label": attribute.label, "type": attribute.type}
    if attribute.required:
        out["required"] = True
    if attribute.type == "enum":
        out["enum_values"] = list(attribute.enum_values)
    return out


def _where(path: str, exc: ValidationError) -> ValidationError:
    return ValidationError(f"{path}: {' '.join(exc.messages)}")


# The JSON type of each field a document may hold (anything else is an error naming its place).
_ENTITY_FIELDS = {"key": str, "label": str, "description": str, "profile": bool, "primary_key": dict,
                  "attributes": list, "display_attribute": str}
_ATTRIBUTE_FIELDS = {"key": str, "label": str, "type": str, "required": bool, "enum_values": list}
_RELATIONSHIP_FIELDS = {"source": str, "attribute": str, "target": str, "key": str, "reverse_key": str,
                        "kind": str, "label": str, "reverse_label": str}
_TYPE_WORDS = {str: "text", bool: "true or false", dict: "an object", list: "a list"}


def _check_fields(path: str, value: Any, fields: dict[str, type]) -> None:
    if not isinstance(value, dict):
        raise ValidationError(f"{path}: must be an object.")
    for name, expected in fields.items():
        if name in value and value[name] is not None and not isinstance(value[name], expected):
            raise ValidationError(f"{path}: '{name}' must be {_TYPE_WORDS[expected]}.")


def _has_nul(value: Any, char: str = "\x00") -> bool:
    if isinstance(value, str):
        return char in value if char == "\x00" else has_surrogate(value)
    if isinstance(value, dict):
        return any(_has_nul(k, char) or _has_nul(v, char) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v, char) for v in value)
    return False


def _check_shape(doc: dict[str, Any]) -> None:
    """Types of the document's fields, before anything is written: a wrong type is a clear
    error naming its place, not a crash in the middle of an import."""
    if _has_nul(doc):  # PostgreSQL text cannot hold NUL
        raise ValidationError("The document contains a NUL character.")
    if _has_nul(doc, "surrogate"):  # not valid Unicode: psycopg cannot send it
        raise ValidationError("The document contains a lone surrogate (invalid Unicode).")
    for name in ("entities", "relationships"):
        if doc.get(name) is not None and not isinstance(doc[name], list):
            raise ValidationError(f"'{name}' must be a list.")
    for i, spec in enumerate(doc.get("entities") or []):
        path = f"entities[{i}] ({spec['key']})" if isinstance(spec, dict) and isinstance(spec.get("key"), str) \
            else f"entities[{i}]"
        _check_fields(path, spec, _ENTITY_FIELDS)
        if spec.get("primary_key") is not None:
            _check_fields(f"{path}.primary_key", spec["primary_key"], _ATTRIBUTE_FIELDS)
        for j, attribute in enumerate(spec.get("attributes") or []):
            _check_fields(f"{path}.attributes[{j}]", attribute, _ATTRIBUTE_FIELDS)
    for i, spec in enumerate(doc.get("relationships") or []):
        _check_fields(f"relationships[{i}]", spec, _RELATIONSHIP_FIELDS)
    addresses = doc.get("addresses")
    if addresses is not None and (not isinstance(addresses, dict) or not all(
            isinstance(v, str) or v is None for v in addresses.values())):
        raise ValidationError("addresses: must be an object mapping address roles to attribute keys.")


@transaction.atomic
def model_import(*, workspace: Workspace, actor: Any, doc: Any) -> dict[str, int]:
    """Create (or complete) the model described by `doc`. All or nothing."""
    if not isinstance(doc, dict):
        raise ValidationError("The model document must be a JSON object with 'entities' (and 'relationships').")
    unknown = set(doc) - DOC_KEYS
    if unknown:
        raise ValidationError(f"Unknown top-level field(s): {', '.join(sorted(unknown))}.")
    _check_shape(doc)
    counts = {"entities": 0, "attributes": 0, "relationships": 0}
    entities_doc = doc.get("entities") or []
    for i, spec in enumerate(entities_doc):
        path = f"entities[{i}]"
        if not isinstance(spec, dict) or "key" not in spec:
            raise ValidationError(f"{path}: each entity needs a 'key'.")
        path = f"entities[{i}] ({spec['key']})"
        try:
            existing = Entity.objects.filter(workspace=workspace, key=spec["key"]).first()
            if existing is None:
                services.entity_create(
                    workspace=workspace, actor=actor, key=spec["key"], label=spec.get("label", ""),
                    description=spec.get("description", ""), primary_key=spec.get("primary_key") or {},
                    attributes=spec.get("attributes") or [], is_profile=bool(spec.get("profile")))
                if spec.get("display_attribute"):
                    created = Entity.objects.get(workspace=workspace, key=spec["key"])
                    services.entity_update(workspace=workspace, actor=actor, entity=created,
                                           display_attribute=spec["display_attribute"])
                counts["entities"] += 1
                counts["attributes"] += len(spec.get("attributes") or []) + 1
                continue
            have = {a.key: a for a in existing.attributes.all()}
            for a_spec in spec.get("attributes") or []:
                current = have.get(a_spec.get("key"))
                if current is None:
                    services.attribute_add(workspace=workspace, actor=actor, entity=existing, spec=a_spec)
                    counts["attributes"] += 1
                elif current.type != a_spec.get("type"):
                    raise ValidationError(
                        f"attribute {current.key!r} exists as {current.type}, the document says {a_spec.get('type')}.")
            if spec.get("profile") and not existing.is_profile:
                services.entity_update(workspace=workspace, actor=actor, entity=existing, is_profile=True)
            if spec.get("display_attribute") and spec["display_attribute"] != existing.display_attribute:
                services.entity_update(workspace=workspace, actor=actor, entity=existing,
                                       display_attribute=spec["display_attribute"])
        except ValidationError as exc:
            raise _where(path, exc) from None
    for i, spec in enumerate(doc.get("relationships") or []):
        path = f"relationships[{i}]"
        try:
            if not isinstance(spec, dict):
                raise ValidationError("each relationship must be an object.")
            source = Entity.objects.filter(workspace=workspace, key=spec.get("source")).first()
            target = Entity.objects.filter(workspace=workspace, key=spec.get("target")).first()
            if source is None or target is None:
                raise ValidationError(f"unknown entity {spec.get('source') if source is None else spec.get('target')!r}.")
            if Relationship.objects.filter(workspace=workspace, source=source, key=spec.get("key")).exists():
                continue
            services.relationship_create(
                workspace=workspace, actor=actor, source=source, attribute_key=spec.get("attribute", ""),
                target=target, key=spec.get("key", ""), reverse_key=spec.get("reverse_key", ""),
                kind=spec.get("kind", "many_to_one"), label=spec.get("label", ""),
                reverse_label=spec.get("reverse_label", ""))
            counts["relationships"] += 1
        except ValidationError as exc:
            raise _where(path, exc) from None
    if doc.get("addresses"):
        try:
            services.address_mapping_set(workspace=workspace, actor=actor, mapping=dict(doc["addresses"]))
        except ValidationError as exc:
            raise _where("addresses", exc) from None
    return counts
