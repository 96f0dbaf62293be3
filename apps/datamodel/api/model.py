"""The data model over the API: entities, attributes, relationships, the address mapping,
and the whole model as one JSON document."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.tenants.api.scoping import WorkspaceScopedMixin

from .. import modeldoc, services
from ..models import AddressRole, Entity, Relationship
from ..selectors import access_attribute, access_entity, access_relationship, address_mapping
from . import serializers as s

TAGS = ["data model"]
CONFIRM = OpenApiParameter("confirm", OpenApiTypes.STR, OpenApiParameter.QUERY,
                           description="Repeat the key to confirm (or send {\"confirm\": \"<key>\"} as the body).")


def confirmation(request) -> str | None:
    """`?confirm=<key>` or a JSON body {"confirm": "<key>"}."""
    if "confirm" in request.query_params:
        return request.query_params["confirm"]
    data = s.ConfirmInput(data=request.data if isinstance(request.data, dict) else {})
    data.is_valid(raise_exception=True)
    return data.validated_data.get("confirm")


def entity_in_body(workspace, request, field: str, key: str) -> Entity:
    """An entity named in a request body: unknown is a 400 on that field (not a 404 of the URL)."""
    try:
        return access_entity(request.user, workspace, key)
    except Http404:
        raise serializers.ValidationError({field: [f"No entity {key!r} in this workspace."]}) from None


class EntityListApi(WorkspaceScopedMixin, GenericAPIView):
    """The workspace's entities (tables) with their attributes."""

    queryset = Entity.objects.all()
    serializer_class = s.EntityOutput

    def scope_queryset(self, queryset):
        return queryset.prefetch_related("attributes")

    @extend_schema(tags=TAGS, operation_id="data_entities_list", responses=s.EntityOutput(many=True))
    def get(self, request, workspace_slug):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.EntityOutput(page, many=True).data)

    @extend_schema(tags=TAGS, operation_id="data_entities_create", request=s.EntityCreateInput,
                   responses={201: s.EntityOutput})
    def post(self, request, workspace_slug):
        data = s.EntityCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        entity = services.entity_create(workspace=self.workspace, actor=request.user, **data.validated_data)
        entity = access_entity(request.user, self.workspace, entity.key)
        return Response(s.EntityOutput(entity).data, status=status.HTTP_201_CREATED)


class EntityDetailApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="data_entities_retrieve", responses=s.EntityOutput)
    def get(self, request, workspace_slug, entity_key):
        return Response(s.EntityOutput(access_entity(request.user, self.workspace, entity_key)).data)

    @extend_schema(tags=TAGS, operation_id="data_entities_update", request=s.EntityUpdateInput,
                   responses=s.EntityOutput)
    def patch(self, request, workspace_slug, entity_key):
        entity = access_entity(request.user, self.workspace, entity_key)
        data = s.EntityUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.entity_update(workspace=self.workspace, actor=request.user, entity=entity, **data.validated_data)
        return Response(s.EntityOutput(access_entity(request.user, self.workspace, entity_key)).data)

    @extend_schema(tags=TAGS, operation_id="data_entities_destroy", parameters=[CONFIRM], request=s.ConfirmInput,
                   responses={204: None},
                   description="Drops the entity, its table and data, and every link to or from it.")
    def delete(self, request, workspace_slug, entity_key):
        entity = access_entity(request.user, self.workspace, entity_key)
        services.entity_delete(workspace=self.workspace, actor=request.user, entity=entity,
                               confirm=confirmation(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AttributeListApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="data_attributes_list", responses=s.AttributeOutput(many=True))
    def get(self, request, workspace_slug, entity_key):
        entity = access_entity(request.user, self.workspace, entity_key)
        return Response(s.AttributeOutput(entity.attributes.all(), many=True).data)

    @extend_schema(tags=TAGS, operation_id="data_attributes_create", request=s.AttributeInput,
                   responses={201: s.AttributeOutput}, description="Adds a column (an online ALTER TABLE).")
    def post(self, request, workspace_slug, entity_key):
        entity = access_entity(request.user, self.workspace, entity_key)
        data = s.AttributeInput(data=request.data)
        data.is_valid(raise_exception=True)
        attribute = services.attribute_add(workspace=self.workspace, actor=request.user, entity=entity,
                                           spec=data.validated_data)
        return Response(s.AttributeOutput(attribute).data, status=status.HTTP_201_CREATED)


class AttributeDetailApi(WorkspaceScopedMixin, APIView):
    def _attribute(self, request, entity_key: str, attribute_key: str):
        entity = access_entity(request.user, self.workspace, entity_key)
        return access_attribute(request.user, self.workspace, entity, attribute_key)

    @extend_schema(tags=TAGS, operation_id="data_attributes_retrieve", responses=s.AttributeOutput)
    def get(self, request, workspace_slug, entity_key, attribute_key):
        return Response(s.AttributeOutput(self._attribute(request, entity_key, attribute_key)).data)

    @extend_schema(tags=TAGS, operation_id="data_attributes_update", request=s.AttributeUpdateInput,
                   responses=s.AttributeOutput,
                   description="A type change succeeds only if every stored value converts.")
    def patch(self, request, workspace_slug, entity_key, attribute_key):
        attribute = self._attribute(request, entity_key, attribute_key)
        data = s.AttributeUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        attribute = services.attribute_update(workspace=self.workspace, actor=request.user, attribute=attribute,
                                              **data.validated_data)
        return Response(s.AttributeOutput(attribute).data)

    @extend_schema(tags=TAGS, operation_id="data_attributes_destroy", parameters=[CONFIRM], request=s.ConfirmInput,
                   responses={204: None}, description="Drops the column and its values (and a link it holds).")
    def delete(self, request, workspace_slug, entity_key, attribute_key):
        attribute = self._attribute(request, entity_key, attribute_key)
        services.attribute_delete(workspace=self.workspace, actor=request.user, attribute=attribute,
                                  confirm=confirmation(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class RelationshipListApi(WorkspaceScopedMixin, GenericAPIView):
    queryset = Relationship.objects.all()
    serializer_class = s.RelationshipOutput

    def scope_queryset(self, queryset):
        return queryset.select_related("source", "target", "attribute").order_by("id")

    @extend_schema(tags=TAGS, operation_id="data_relationships_list", responses=s.RelationshipOutput(many=True))
    def get(self, request, workspace_slug):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.RelationshipOutput(page, many=True).data)

    @extend_schema(tags=TAGS, operation_id="data_relationships_create", request=s.RelationshipInput,
                   responses={201: s.RelationshipOutput})
    def post(self, request, workspace_slug):
        data = s.RelationshipInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        source = entity_in_body(self.workspace, request, "source", values.pop("source"))
        target = entity_in_body(self.workspace, request, "target", values.pop("target"))
        relationship = services.relationship_create(workspace=self.workspace, actor=request.user, source=source,
                                                    target=target, attribute_key=values.pop("attribute"), **values)
        relationship = access_relationship(request.user, self.workspace, relationship.pk)
        return Response(s.RelationshipOutput(relationship).data, status=status.HTTP_201_CREATED)


class RelationshipDetailApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="data_relationships_retrieve", responses=s.RelationshipOutput)
    def get(self, request, workspace_slug, pk):
        return Response(s.RelationshipOutput(access_relationship(request.user, self.workspace, pk)).data)

    @extend_schema(tags=TAGS, operation_id="data_relationships_destroy", responses={204: None},
                   description="Removes the link; the attribute holding it and its values stay.")
    def delete(self, request, workspace_slug, pk):
        relationship = access_relationship(request.user, self.workspace, pk)
        services.relationship_delete(workspace=self.workspace, actor=request.user, relationship=relationship)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ModelDocumentApi(WorkspaceScopedMixin, APIView):
    """The whole model as one JSON document (the format of `manage.py datamodel_import`)."""

    json_strings_checked_by_view = True  # model_import names a NUL in the document itself

    @extend_schema(tags=TAGS, operation_id="data_model_export", responses=s.ModelDocument)
    def get(self, request, workspace_slug):
        return Response(modeldoc.model_export(workspace=self.workspace))

    @extend_schema(tags=TAGS, operation_id="data_model_import", request=s.ModelDocument, responses=s.ModelImported,
                   description="Creates what the document describes and the workspace lacks; existing entities "
                               "and attributes of the same definition are kept. All or nothing: an error names "
                               "its place, e.g. `entities[1] (booking): ...`.")
    def post(self, request, workspace_slug):
        # The document goes to model_import as it came: it checks every part itself and
        # names the place of an error, which a serializer's nested errors would not.
        counts = modeldoc.model_import(workspace=self.workspace, actor=request.user, doc=request.data)
        return Response({"created": counts, "model": modeldoc.model_export(workspace=self.workspace)})


class AddressesApi(WorkspaceScopedMixin, APIView):
    """Which attributes of the profile dimension hold the channel addresses."""

    def _current(self) -> dict[str, Any]:
        profile, addresses = address_mapping(workspace=self.workspace)
        return {"profile": profile.key if profile else None, "addresses": addresses}

    @extend_schema(tags=TAGS, operation_id="data_addresses_retrieve", responses=s.AddressesSerializer)
    def get(self, request, workspace_slug):
        return Response(s.AddressesSerializer(self._current()).data)

    @extend_schema(tags=TAGS, operation_id="data_addresses_update", request=s.AddressesSerializer,
                   responses=s.AddressesSerializer)
    def put(self, request, workspace_slug):
        data = s.AddressesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mapping = {role: None for role in AddressRole.values} | dict(data.validated_data["addresses"])
        services.address_mapping_set(workspace=self.workspace, actor=request.user, mapping=mapping)
        return Response(s.AddressesSerializer(self._current()).data)
