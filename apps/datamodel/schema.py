"""The workspace's data model as one snapshot: entities, their attributes and the links
between them, loaded in three queries. Rules, campaigns and channels check what they are
given against it before any SQL exists."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .models import Attribute, Entity, Relationship


@dataclass
class Schema:
    """The workspace's metadata, loaded once per check."""

    workspace: Any
    entities: dict[str, Entity]
    attributes: dict[int, dict[str, Attribute]]  # entity id -> key -> attribute
    outgoing: dict[int, dict[str, Relationship]]  # entity id -> link key -> relationship
    incoming: dict[int, dict[str, Relationship]]  # entity id -> reverse key -> relationship
    by_id: dict[int, Entity] = field(default_factory=dict)

    @classmethod
    def load(cls, workspace) -> Schema:
        entities = {e.key: e for e in Entity.objects.filter(workspace=workspace).select_related("workspace")}
        by_id = {e.pk: e for e in entities.values()}
        attributes: dict[int, dict[str, Attribute]] = {e.pk: {} for e in entities.values()}
        for attribute in Attribute.objects.filter(workspace=workspace).order_by("position", "id"):
            attribute.entity = by_id[attribute.entity_id]
            attributes[attribute.entity_id][attribute.key] = attribute
        outgoing: dict[int, dict[str, Relationship]] = {e.pk: {} for e in entities.values()}
        incoming: dict[int, dict[str, Relationship]] = {e.pk: {} for e in entities.values()}
        for rel in Relationship.objects.filter(workspace=workspace):
            rel.source, rel.target = by_id[rel.source_id], by_id[rel.target_id]
            rel.attribute = next(a for a in attributes[rel.source_id].values() if a.pk == rel.attribute_id)
            outgoing[rel.source_id][rel.key] = rel
            incoming[rel.target_id][rel.reverse_key] = rel
        return cls(workspace=workspace, entities=entities, attributes=attributes, outgoing=outgoing,
                   incoming=incoming, by_id=by_id)

    def pk(self, entity: Entity) -> Attribute:
        return next(a for a in self.attributes[entity.pk].values() if a.is_primary_key)
