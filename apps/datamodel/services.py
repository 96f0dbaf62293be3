"""Writes to a workspace's data model. Each service changes metadata and DDL in one
transaction and records an audit event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from psycopg import sql

from apps.core.sqlutil import execute
from apps.tenants.models import Workspace
from apps.tenants.services import audit_record

from . import ddl
from .locks import entity_write_lock
from .models import (
    AddressMapping,
    AddressRole,
    Attribute,
    AttributeType,
    Entity,
    Relationship,
    RelationshipKind,
)
from .validation import validate_enum_values, validate_identifier

TYPES = {t.value for t in AttributeType}
MAX_ENTITIES = 200  # as Adobe's relational schemas: more is a modelling problem
MAX_ATTRIBUTES = 400  # PostgreSQL allows 1600 columns; far below that keeps rows narrow


def _clean_attribute_spec(spec: dict[str, Any], *, entity_key: str) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise ValidationError(f"{entity_key}: each attribute must be an object with at least 'key' and 'type'.")
    unknown = set(spec) - {"key", "label", "type", "required", "enum_values", "primary_key"}
    if unknown:
        raise ValidationError(f"{entity_key}.{spec.get('key')}: unknown field(s) {', '.join(sorted(unknown))}.")
    key = validate_identifier(spec.get("key"), what="Attribute")
    attr_type = spec.get("type")
    if attr_type not in TYPES:
        raise ValidationError(
            f"{entity_key}.{key}: type {attr_type!r} is not one of {', '.join(sorted(TYPES))}.")
    enum_values = spec.get("enum_values") or []
    if attr_type == "enum":
        enum_values = validate_enum_values(enum_values)
    elif enum_values:
        raise ValidationError(f"{entity_key}.{key}: enum_values only apply to enum attributes.")
    return {"key": key, "label": (spec.get("label") or key.replace("_", " ").capitalize())[:200],
            "type": attr_type, "required": bool(spec.get("required", False)), "enum_values": enum_values}


def entity_create(*, workspace: Workspace, actor: Any, key: str, label: str = "", primary_key: dict[str, Any],
                  attributes: list[dict[str, Any]] | None = None, is_profile: bool = False,
                  description: str = "") -> Entity:
    """Create an entity and its table: primary key, attributes, `_updated_at`."""
    key = validate_identifier(key, what="Entity")
    attributes = attributes or []
    if Entity.objects.filter(workspace=workspace).count() >= MAX_ENTITIES:
        raise ValidationError(f"A workspace holds at most {MAX_ENTITIES} entities.")
    if Entity.objects.filter(workspace=workspace, key=key).exists():
        raise ValidationError(f"An entity {key!r} already exists in this workspace.")
    pk_spec = _clean_attribute_spec(primary_key, entity_key=key)
    if pk_spec["type"] not in ("text", "integer", "email", "phone"):
        raise ValidationError(f"{key}: a primary key must be text or integer, not {pk_spec['type']}.")
    specs = [_clean_attribute_spec(s, entity_key=key) for s in attributes]
    seen = {pk_spec["key"]}
    for spec in specs:
        if spec["key"] in seen:
            raise ValidationError(f"{key}: attribute {spec['key']!r} is defined twice.")
        seen.add(spec["key"])
    with transaction.atomic():
        if is_profile and Entity.objects.filter(workspace=workspace, is_profile=True).exists():
            raise ValidationError("This workspace already has a profile dimension; unmark it first.")
        entity = Entity.objects.create(workspace=workspace, key=key, label=label or key.replace("_", " ").capitalize(),
                                       is_profile=is_profile, description=description)
        pk = Attribute.objects.create(workspace=workspace, entity=entity, is_primary_key=True, position=0,
                                      **{**pk_spec, "required": True})
        ddl.table_create(entity, pk)
        for position, spec in enumerate(specs, start=1):
            attribute = Attribute.objects.create(workspace=workspace, entity=entity, position=position, **spec)
            ddl.column_add(attribute)
        audit_record(workspace=workspace, actor=actor, verb="datamodel.entity_created", target=entity,
                     data={"attributes": [pk_spec["key"], *[s["key"] for s in specs]]})
    return entity


def entity_update(*, workspace: Workspace, actor: Any, entity: Entity, label: str | None = None,
                  description: str | None = None, is_profile: bool | None = None,
                  display_attribute: str | None = None) -> Entity:
    """`display_attribute`: the key of the attribute that names its records ("" for the
    guessed default)."""
    with transaction.atomic():
        if display_attribute is not None:
            if display_attribute and not entity.attributes.filter(key=display_attribute).exists():
                raise ValidationError({"display_attribute": f"{entity.key} has no attribute {display_attribute!r}."})
            entity.display_attribute = display_attribute
        if label is not None:
            entity.label = label[:200]
        if description is not None:
            entity.description = description
        if is_profile is not None and is_profile != entity.is_profile:
            if is_profile:
                Entity.objects.filter(workspace=workspace, is_profile=True).update(is_profile=False)
                AddressMapping.objects.filter(workspace=workspace).delete()
            else:
                AddressMapping.objects.filter(workspace=workspace).delete()
            entity.is_profile = is_profile
        entity.save()
        audit_record(workspace=workspace, actor=actor, verb="datamodel.entity_updated", target=entity)
    return entity


def entity_delete(*, workspace: Workspace, actor: Any, entity: Entity, confirm: str | None) -> None:
    """Drop an entity, its table, and every relationship to or from it. `confirm` must
    repeat the entity key: this deletes data."""
    if confirm != entity.key:
        raise ValidationError(f"Type the entity key {entity.key!r} to confirm: its table and data will be deleted.")
    with transaction.atomic():
        for rel in Relationship.objects.filter(workspace=workspace, target=entity).exclude(source=entity):
            relationship_delete(workspace=workspace, actor=actor, relationship=rel)
        ddl.table_drop(entity)
        audit_record(workspace=workspace, actor=actor, verb="datamodel.entity_deleted", target=entity)
        entity.delete()


def attribute_add(*, workspace: Workspace, actor: Any, entity: Entity, spec: dict[str, Any]) -> Attribute:
    """Add a column (online ALTER TABLE)."""
    spec = _clean_attribute_spec(spec, entity_key=entity.key)
    if entity.attributes.filter(key=spec["key"]).exists():
        raise ValidationError(f"{entity.key} already has an attribute {spec['key']!r}.")
    if entity.attributes.count() >= MAX_ATTRIBUTES:
        raise ValidationError(f"An entity holds at most {MAX_ATTRIBUTES} attributes.")
    with transaction.atomic():
        position = (entity.attributes.order_by("-position").values_list("position", flat=True).first() or 0) + 1
        attribute = Attribute.objects.create(workspace=workspace, entity=entity, position=position, **spec)
        ddl.column_add(attribute)
        if attribute.type in ddl.COVERED_TYPES:
            ddl.relationship_indexes_refresh(entity)
        audit_record(workspace=workspace, actor=actor, verb="datamodel.attribute_added", target=attribute,
                     data={"type": spec["type"]})
    return attribute


def attribute_update(*, workspace: Workspace, actor: Any, attribute: Attribute, label: str | None = None,
                     type: str | None = None, required: bool | None = None,
                     enum_values: list[str] | None = None) -> Attribute:
    """Change label, type (only if every stored value converts), required, enum values."""
    if attribute.is_primary_key and (type not in (None, attribute.type) or required is False):
        raise ValidationError("The primary key's type and requiredness cannot change.")
    if hasattr(attribute, "relationship") and type not in (None, attribute.type):
        raise ValidationError(f"{attribute} links to {attribute.relationship.target.key}: remove the link first.")
    with transaction.atomic():
        changes: dict[str, Any] = {}
        if label is not None and label != attribute.label:
            attribute.label = label[:200]
            changes["label"] = label
        new_type = type if type is not None else attribute.type
        if new_type not in TYPES:
            raise ValidationError(f"Type {new_type!r} is not one of {', '.join(sorted(TYPES))}.")
        if new_type == "enum":
            values = validate_enum_values(enum_values if enum_values is not None else attribute.enum_values)
        elif enum_values:
            raise ValidationError("enum_values only apply to enum attributes.")
        else:
            values = []
        if new_type != attribute.type:
            attribute.enum_values = values
            changes["type"] = {"old": attribute.type, "new": new_type}
            ddl.column_change_type(attribute, new_type)
            attribute.save()
            ddl.relationship_indexes_refresh(attribute.entity)
        elif values != list(attribute.enum_values):
            changes["enum_values"] = {"old": attribute.enum_values, "new": values}
            attribute.enum_values = values
            ddl.column_change_checks(attribute)
        if required is not None and required != attribute.required:
            ddl.column_set_required(attribute, required)
            attribute.required = required
            changes["required"] = required
        attribute.save()
        if changes:
            audit_record(workspace=workspace, actor=actor, verb="datamodel.attribute_updated", target=attribute,
                         data=changes)
    return attribute


def attribute_delete(*, workspace: Workspace, actor: Any, attribute: Attribute, confirm: str | None) -> None:
    if attribute.is_primary_key:
        raise ValidationError("The primary key cannot be removed.")
    if confirm != attribute.key:
        raise ValidationError(f"Type the attribute key {attribute.key!r} to confirm: its values will be deleted.")
    with transaction.atomic():
        if hasattr(attribute, "relationship"):
            relationship_delete(workspace=workspace, actor=actor, relationship=attribute.relationship)
        covered = attribute.type in ddl.COVERED_TYPES
        ddl.column_drop(attribute)  # (drops a link index that covers the column, too)
        audit_record(workspace=workspace, actor=actor, verb="datamodel.attribute_deleted", target=attribute)
        entity = attribute.entity
        attribute.delete()
        if covered:
            ddl.relationship_indexes_refresh(entity)


def relationship_create(*, workspace: Workspace, actor: Any, source: Entity, attribute_key: str, target: Entity,
                        key: str, reverse_key: str, kind: str = RelationshipKind.MANY_TO_ONE,
                        label: str = "", reverse_label: str = "") -> Relationship:
    """Link source.attribute to target's primary key, named in both directions."""
    key = validate_identifier(key, what="Relationship")
    reverse_key = validate_identifier(reverse_key, what="Relationship")
    if kind not in RelationshipKind.values:
        raise ValidationError(f"Kind {kind!r} is not one of {', '.join(RelationshipKind.values)}.")
    attribute = source.attributes.filter(key=attribute_key).first()
    if attribute is None:
        raise ValidationError(f"{source.key} has no attribute {attribute_key!r} to hold the link.")
    target_pk = target.attributes.get(is_primary_key=True)
    if ddl.SQL_TYPES[attribute.type] != ddl.SQL_TYPES[target_pk.type]:
        raise ValidationError(
            f"{source.key}.{attribute.key} is {attribute.type} but {target.key}.{target_pk.key} is "
            f"{target_pk.type}: the link column must have the type of the target's primary key.")
    if source.attributes.filter(key=key).exists():
        raise ValidationError(f"{source.key} already has an attribute named {key!r}; name the link otherwise.")
    if Relationship.objects.filter(workspace=workspace, source=source, key=key).exists():
        raise ValidationError(f"{source.key} already has a link named {key!r}.")
    if Relationship.objects.filter(workspace=workspace, target=target, reverse_key=reverse_key).exists() or \
            target.attributes.filter(key=reverse_key).exists():
        raise ValidationError(f"{target.key} already has a link or attribute named {reverse_key!r}.")
    if hasattr(attribute, "relationship"):
        raise ValidationError(f"{source.key}.{attribute.key} already holds a link.")
    try:
        with transaction.atomic():
            relationship = Relationship.objects.create(
                workspace=workspace, source=source, target=target, attribute=attribute, key=key,
                reverse_key=reverse_key, kind=kind, label=label or key.replace("_", " ").capitalize(),
                reverse_label=reverse_label or reverse_key.replace("_", " ").capitalize())
            ddl.relationship_index_create(relationship)
            audit_record(workspace=workspace, actor=actor, verb="datamodel.relationship_created",
                         target=relationship)
    except IntegrityError as exc:
        raise ValidationError(
            f"{source.key}.{attribute.key} has duplicate values, so it cannot be a one-to-one link.") from exc
    return relationship


def relationship_delete(*, workspace: Workspace, actor: Any, relationship: Relationship) -> None:
    with transaction.atomic():
        ddl.relationship_index_drop(relationship)
        audit_record(workspace=workspace, actor=actor, verb="datamodel.relationship_deleted", target=relationship)
        relationship.delete()


def address_mapping_set(*, workspace: Workspace, actor: Any, mapping: dict[str, str | None]) -> None:
    """Map channel address parts (email, phone, postal lines...) to profile attributes."""
    profile = Entity.objects.filter(workspace=workspace, is_profile=True).first()
    if profile is None:
        raise ValidationError("Mark one entity as the profile dimension first.")
    with transaction.atomic():
        for role, attribute_key in mapping.items():
            if role not in AddressRole.values:
                raise ValidationError(f"{role!r} is not an address role ({', '.join(AddressRole.values)}).")
            AddressMapping.objects.filter(workspace=workspace, role=role).delete()
            if not attribute_key:
                continue
            attribute = profile.attributes.filter(key=attribute_key).first()
            if attribute is None:
                raise ValidationError(f"The profile dimension {profile.key} has no attribute {attribute_key!r}.")
            if role == "email" and attribute.type not in ("email", "text"):
                raise ValidationError(f"The email address must be an email or text attribute, not {attribute.type}.")
            if role == "phone" and attribute.type not in ("phone", "text"):
                raise ValidationError(f"The phone number must be a phone or text attribute, not {attribute.type}.")
            AddressMapping.objects.create(workspace=workspace, role=role, attribute=attribute)
        audit_record(workspace=workspace, actor=actor, verb="datamodel.addresses_mapped", target=profile,
                     data={k: v for k, v in mapping.items()})


def records_delete(*, workspace: Workspace, entity: Entity, where: sql.Composable,
                   params: Sequence[Any] = ()) -> int:
    """Delete the rows of `entity` where `where` holds (an SQL condition over the alias
    `t`, its values bound as `params`), in one statement under the entity's write lock.
    Not audited: the caller's audit entry says what the rows were deleted for (an erasure
    names only a pseudonym). The number of rows deleted."""
    if entity.workspace_id != workspace.pk:
        raise ValueError(f"entity {entity.key!r} is not of workspace {workspace.pk}")
    with transaction.atomic(savepoint=False):  # the caller's transaction, when there is one
        entity_write_lock(entity)
        return execute(sql.SQL("DELETE FROM {} t WHERE {}").format(ddl.table(entity), where), params)


def record_delete(*, workspace: Workspace, actor: Any, entity: Entity, key: Any) -> bool:
    """Delete one record by primary key. True when a row was deleted."""
    from .selectors import parse_value  # noqa: PLC0415

    pk = entity.attributes.get(is_primary_key=True)
    value = parse_value(pk, key)
    with transaction.atomic():
        deleted = records_delete(workspace=workspace, entity=entity,
                                 where=sql.SQL("t.{} = %s").format(ddl.column(pk)), params=[value])
        if deleted:
            audit_record(workspace=workspace, actor=actor, verb="datamodel.record_deleted", target=entity,
                         data={"key": str(key)})
    return bool(deleted)
