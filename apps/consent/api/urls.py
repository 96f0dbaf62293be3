"""Consent's API under /api/v1/workspaces/<slug>/: topics and consents, suppressions, rule
sets, quiet hours, the policy, and data subject requests (workspace admins only)."""

from django.urls import path

from . import consents, dsr, rules

urlpatterns = [
    path("topics/", consents.TopicListApi.as_view(), name="api-consent-topic-list"),
    path("topics/<int:pk>/", consents.TopicDetailApi.as_view(), name="api-consent-topic-detail"),
    path("consents/", consents.ConsentRecordApi.as_view(), name="api-consent-record"),
    path("consents/import/", consents.ConsentImportApi.as_view(), name="api-consent-import"),
    path("consents/batch/", consents.ConsentBatchApi.as_view(), name="api-consent-batch"),
    path("profiles/<str:profile_key>/consents/", consents.ProfileConsentsApi.as_view(), name="api-consent-profile"),
    path("profiles/<str:profile_key>/consents/history/", consents.ProfileHistoryApi.as_view(),
         name="api-consent-history"),
    path("suppressions/", rules.SuppressionListApi.as_view(), name="api-consent-suppression-list"),
    path("suppressions/<int:pk>/", rules.SuppressionDetailApi.as_view(), name="api-consent-suppression-detail"),
    path("rule-sets/", rules.RuleSetListApi.as_view(), name="api-consent-ruleset-list"),
    path("rule-sets/<int:pk>/", rules.RuleSetDetailApi.as_view(), name="api-consent-ruleset-detail"),
    path("quiet-hours/", rules.QuietHoursApi.as_view(), name="api-consent-quiet-hours"),
    path("policy/", rules.PolicyApi.as_view(), name="api-consent-policy"),
    path("inbound-sms-url/", rules.InboundSmsUrlApi.as_view(), name="api-consent-inbound-sms-url"),
    path("profiles/lookup/", dsr.ProfileLookupApi.as_view(), name="api-dsr-lookup"),
    path("profiles/<str:key>/export/", dsr.ProfileExportApi.as_view(), name="api-dsr-export"),
    path("profiles/<str:key>/erase/", dsr.ProfileEraseApi.as_view(), name="api-dsr-erase"),
]
