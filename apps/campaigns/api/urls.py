from django.urls import path

from . import campaigns, lifecycle, runs, schedule

urlpatterns = [
    path("campaigns/", campaigns.CampaignListApi.as_view(), name="api-camp-campaign-list"),
    path("campaigns/<int:pk>/", campaigns.CampaignDetailApi.as_view(), name="api-camp-campaign-detail"),
    path("campaigns/<int:pk>/draft/", campaigns.CampaignDraftApi.as_view(), name="api-camp-campaign-draft"),
    path("campaigns/<int:pk>/validate/", campaigns.CampaignValidateApi.as_view(), name="api-camp-campaign-validate"),
    path("campaigns/<int:pk>/test-runs/", campaigns.CampaignTestRunApi.as_view(), name="api-camp-campaign-test-run"),
    path("campaigns/<int:pk>/duplicate/", campaigns.CampaignDuplicateApi.as_view(),
         name="api-camp-campaign-duplicate"),
    path("campaigns/<int:pk>/publish/", lifecycle.CampaignPublishApi.as_view(), name="api-camp-campaign-publish"),
    path("campaigns/<int:pk>/start/", lifecycle.CampaignStartApi.as_view(), name="api-camp-campaign-start"),
    path("campaigns/<int:pk>/stop/", lifecycle.CampaignStopApi.as_view(), name="api-camp-campaign-stop"),
    path("campaigns/<int:pk>/pause/", lifecycle.CampaignPauseApi.as_view(), name="api-camp-campaign-pause"),
    path("campaigns/<int:pk>/resume/", lifecycle.CampaignResumeApi.as_view(), name="api-camp-campaign-resume"),
    path("campaigns/<int:pk>/close/", lifecycle.CampaignCloseApi.as_view(), name="api-camp-campaign-close"),
    path("campaigns/<int:pk>/archive/", lifecycle.CampaignArchiveApi.as_view(), name="api-camp-campaign-archive"),
    path("campaigns/<int:pk>/trigger/", lifecycle.CampaignTriggerApi.as_view(), name="api-camp-campaign-trigger"),
    path("campaigns/<int:pk>/schedule/", schedule.CampaignScheduleApi.as_view(), name="api-camp-campaign-schedule"),
    path("campaigns/<int:pk>/runs/", runs.CampaignRunListApi.as_view(), name="api-camp-campaign-runs"),
    path("runs/<int:pk>/", runs.RunDetailApi.as_view(), name="api-camp-run-detail"),
    path("runs/<int:pk>/activities/<slug:node_id>/", runs.ActivityRunDetailApi.as_view(),
         name="api-camp-run-activity"),
    path("runs/<int:pk>/activities/<slug:node_id>/retry/", runs.ActivityRetryApi.as_view(),
         name="api-camp-run-activity-retry"),
    path("runs/<int:pk>/stop/", runs.RunStopApi.as_view(), name="api-camp-run-stop"),
    path("runs/<int:pk>/confirm/", runs.RunConfirmApi.as_view(), name="api-camp-run-confirm"),
    path("campaigns/definition-schema/", runs.DefinitionSchemaApi.as_view(), name="api-camp-definition-schema"),
    path("activity-types/", runs.ActivityTypeListApi.as_view(), name="api-camp-activity-types"),
]
