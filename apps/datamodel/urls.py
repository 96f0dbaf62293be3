"""The data model editor, data browser and ingestion pages, under /w/<slug>/data/.
Entities and attributes are addressed by key (as in the API); a record by its primary key."""

from django.urls import path

from .views import entity, ingestion, model, records

urlpatterns = [
    # the model
    path("", model.model, name="data-model"),
    path("model.svg", model.erd_svg, name="data-erd"),
    path("model.json", model.model_download, name="data-model-export"),
    path("model/import/", model.model_upload, name="data-model-import"),
    path("entities/", model.entity_create, name="data-entity-create"),
    path("entities/<slug:entity_key>/", entity.entity, name="data-entity"),
    path("entities/<slug:entity_key>/delete/", entity.entity_delete, name="data-entity-delete"),
    path("entities/<slug:entity_key>/attributes/", entity.attribute_add, name="data-attribute-add"),
    path("entities/<slug:entity_key>/attributes/<slug:attribute_key>/", entity.attribute, name="data-attribute"),
    path("entities/<slug:entity_key>/attributes/<slug:attribute_key>/delete/", entity.attribute_delete,
         name="data-attribute-delete"),
    path("entities/<slug:entity_key>/links/", entity.relationship_add, name="data-relationship-add"),
    path("links/<int:pk>/delete/", entity.relationship_delete, name="data-relationship-delete"),
    path("entities/<slug:entity_key>/addresses/", entity.addresses, name="data-addresses"),
    # the data browser; a record key may hold any character, so it comes last in its URL
    path("entities/<slug:entity_key>/records/", records.records, name="data-records"),
    path("entities/<slug:entity_key>/records/<path:key>/", records.record, name="data-record"),
    path("entities/<slug:entity_key>/delete-record/<path:key>/", records.record_delete, name="data-record-delete"),
    # ingestion
    path("upload/", ingestion.upload_start, name="data-upload-start"),
    path("entities/<slug:entity_key>/upload/", ingestion.upload, name="data-upload"),
    path("loads/", ingestion.jobs, name="data-jobs"),
    path("loads/<int:pk>/", ingestion.job, name="data-job"),
    path("loads/<int:pk>/status/", ingestion.job_status, name="data-job-status"),
    path("loads/<int:pk>/rejected-rows.csv", ingestion.job_rejected, name="data-job-rejected"),
]
