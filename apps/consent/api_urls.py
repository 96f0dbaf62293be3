from django.urls import path

from . import api, api_rules

urlpatterns = [
    path("topics/", api.TopicListApi.as_view(), name="api-consent-topic-list"),
    path("topics/<int:pk>/", api.TopicDetailApi.as_view(), name="api-consent-topic-detail"),
    path("consents/", api.ConsentRecordApi.as_view(), name="api-consent-record"),
    path("consents/import/", api.ConsentImportApi.as_view(), name="api-consent-import"),
    path("consents/batch/", api.ConsentBatchApi.as_view(), name="api-consent-batch"),
    path("profiles/<str:profile_key>/consents/", api.ProfileConsentsApi.as_view(), name="api-consent-profile"),
    path("profiles/<str:profile_key>/consents/history/", api.ProfileHistoryApi.as_view(),
         name="api-consent-history"),
    path("suppressions/", api_rules.SuppressionListApi.as_view(), name="api-consent-suppression-list"),
    path("suppressions/<int:pk>/", api_rules.SuppressionDetailApi.as_view(), name="api-consent-suppression-detail"),
    path("rule-sets/", api_rules.RuleSetListApi.as_view(), name="api-consent-ruleset-list"),
    path("rule-sets/<int:pk>/", api_rules.RuleSetDetailApi.as_view(), name="api-consent-ruleset-detail"),
    path("quiet-hours/", api_rules.QuietHoursApi.as_view(), name="api-consent-quiet-hours"),
    path("policy/", api_rules.PolicyApi.as_view(), name="api-consent-policy"),
    path("inbound-sms-url/", api_rules.InboundSmsUrlApi.as_view(), name="api-consent-inbound-sms-url"),
]
