from django.contrib import admin

from .models import AddressMapping, Attribute, Entity, IngestionJob, Relationship


class ReadOnlyStructure(admin.ModelAdmin):
    """The data model changes through its services (they run the DDL with it): the admin
    shows it and never edits it."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Entity)
class EntityAdmin(ReadOnlyStructure):
    list_display = ["key", "label", "workspace", "is_profile", "created_at"]
    list_filter = ["is_profile", "workspace"]
    search_fields = ["key", "label", "workspace__slug"]


@admin.register(Attribute)
class AttributeAdmin(ReadOnlyStructure):
    list_display = ["key", "entity", "type", "required", "is_primary_key", "workspace"]
    list_filter = ["type", "required", "workspace"]
    search_fields = ["key", "label", "entity__key"]


@admin.register(Relationship)
class RelationshipAdmin(ReadOnlyStructure):
    list_display = ["source", "key", "target", "reverse_key", "kind", "workspace"]
    list_filter = ["kind", "workspace"]
    search_fields = ["key", "reverse_key", "source__key", "target__key"]


@admin.register(AddressMapping)
class AddressMappingAdmin(ReadOnlyStructure):
    list_display = ["role", "attribute", "workspace"]
    list_filter = ["role", "workspace"]
    search_fields = ["role", "attribute__key"]


@admin.register(IngestionJob)
class IngestionJobAdmin(ReadOnlyStructure):
    list_display = ["pk", "entity", "workspace", "status", "source", "rows_seen", "inserted", "updated", "rejected",
                    "created_at"]
    list_filter = ["status", "source", "mode", "workspace"]
    search_fields = ["original_name", "entity__key", "message"]
    date_hierarchy = "created_at"
