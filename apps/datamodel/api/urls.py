from django.urls import path

from . import ingestion, model, records

urlpatterns = [
    path("entities/", model.EntityListApi.as_view(), name="api-data-entity-list"),
    path("entities/<slug:entity_key>/", model.EntityDetailApi.as_view(), name="api-data-entity-detail"),
    path("entities/<slug:entity_key>/attributes/", model.AttributeListApi.as_view(), name="api-data-attribute-list"),
    path("entities/<slug:entity_key>/attributes/<slug:attribute_key>/", model.AttributeDetailApi.as_view(),
         name="api-data-attribute-detail"),
    path("relationships/", model.RelationshipListApi.as_view(), name="api-data-relationship-list"),
    path("relationships/<int:pk>/", model.RelationshipDetailApi.as_view(), name="api-data-relationship-detail"),
    path("model/", model.ModelDocumentApi.as_view(), name="api-data-model"),
    path("addresses/", model.AddressesApi.as_view(), name="api-data-addresses"),
    path("entities/<slug:entity_key>/records/", records.RecordListApi.as_view(), name="api-data-record-list"),
    # Before the record detail: a record keyed "batch" is not reachable by this URL.
    path("entities/<slug:entity_key>/records/batch/", records.RecordBatchApi.as_view(),
         name="api-data-record-batch"),
    path("entities/<slug:entity_key>/records/<str:record_key>/", records.RecordDetailApi.as_view(),
         name="api-data-record-detail"),
    path("ingestion-jobs/", ingestion.IngestionJobListApi.as_view(), name="api-data-ingestionjob-list"),
    path("ingestion-jobs/<int:pk>/", ingestion.IngestionJobDetailApi.as_view(), name="api-data-ingestionjob-detail"),
    path("ingestion-jobs/<int:pk>/rejected-rows/", ingestion.IngestionJobRejectedRowsApi.as_view(),
         name="api-data-ingestionjob-rejected-rows"),
]
