"""The campaign screens, under /w/<slug>/campaigns/."""

from django.urls import path

from .views import approvals, campaigns, editor, runs, schedule

urlpatterns = [
    path("", campaigns.campaign_list, name="camp-list"),
    path("approvals/", approvals.approval_list, name="camp-approvals"),
    path("approvals/count/", approvals.approval_count, name="camp-approvals-count"),
    path("<int:pk>/approval/", approvals.campaign_approval, name="camp-approval"),
    path("<int:pk>/", editor.campaign_detail, name="camp-detail"),
    path("<int:pk>/edit/", editor.campaign_edit, name="camp-edit"),
    path("<int:pk>/test-run/", campaigns.campaign_test_run, name="camp-test-run"),
    path("<int:pk>/duplicate/", campaigns.campaign_duplicate, name="camp-duplicate"),
    path("<int:pk>/schedule/", schedule.campaign_schedule, name="camp-schedule"),
    path("<int:pk>/lifecycle/", campaigns.campaign_lifecycle, name="camp-lifecycle"),
    path("runs/<int:pk>/", runs.run_detail, name="camp-run"),
    path("runs/<int:pk>/status/", runs.run_status, name="camp-run-status"),
    path("runs/<int:pk>/edge/", runs.run_edge, name="camp-run-edge"),
    path("runs/<int:pk>/stop/", runs.run_stop, name="camp-run-stop"),
    path("runs/<int:pk>/confirm/", runs.run_confirm, name="camp-run-confirm"),
    path("runs/<int:pk>/activities/<slug:node_id>/retry/", runs.activity_retry, name="camp-run-retry"),
]
