from django.urls import path

from . import audiences, rules

urlpatterns = [
    path("audiences/", audiences.AudienceListApi.as_view(), name="api-aud-audience-list"),
    path("audiences/upload/", audiences.AudienceUploadApi.as_view(), name="api-aud-audience-upload"),
    path("audiences/<int:pk>/", audiences.AudienceDetailApi.as_view(), name="api-aud-audience-detail"),
    path("audiences/<int:pk>/count/", audiences.AudienceCountApi.as_view(), name="api-aud-audience-count"),
    path("audiences/<int:pk>/sample/", audiences.AudienceSampleApi.as_view(), name="api-aud-audience-sample"),
    path("audiences/<int:pk>/export/", audiences.AudienceExportApi.as_view(), name="api-aud-audience-export"),
    path("audiences/<int:pk>/snapshot/", audiences.AudienceSnapshotApi.as_view(), name="api-aud-audience-snapshot"),
    path("audiences/<int:pk>/duplicate/", audiences.AudienceDuplicateApi.as_view(),
         name="api-aud-audience-duplicate"),
    path("audience-rules/validate/", rules.RuleValidateApi.as_view(), name="api-aud-rule-validate"),
    path("audience-rules/count/", rules.RuleCountApi.as_view(), name="api-aud-rule-count"),
    path("audience-rules/sample/", rules.RuleSampleApi.as_view(), name="api-aud-rule-sample"),
    path("audience-rules/distribution/", rules.RuleDistributionApi.as_view(), name="api-aud-rule-distribution"),
    path("audience-rules/group-counts/", rules.RuleGroupCountsApi.as_view(), name="api-aud-rule-group-counts"),
    path("audience-rules/sql/", rules.RuleSqlApi.as_view(), name="api-aud-rule-sql"),
]
