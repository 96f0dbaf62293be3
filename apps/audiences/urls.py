"""The audience portal and the rule builder, under /w/<slug>/audiences/."""

from django.urls import path

from .views import builder, portal, preview

urlpatterns = [
    path("", portal.audience_list, name="aud-list"),
    path("new/", builder.audience_new, name="aud-new"),
    path("upload/", portal.audience_upload, name="aud-upload"),
    # what a rule matches (the rule's JSON is in the body; they only read)
    path("preview/count/", preview.live_count, name="aud-count"),
    path("preview/sample/", preview.sample, name="aud-sample"),
    path("preview/sql/", preview.show_sql, name="aud-sql"),
    path("preview/distribution/", preview.distribution, name="aud-distribution"),
    path("preview/groups/", preview.group_counts, name="aud-groups"),
    # one audience
    path("<int:pk>/", portal.audience_detail, name="aud-detail"),
    path("<int:pk>/edit/", builder.audience_edit, name="aud-edit"),
    path("<int:pk>/status/", portal.audience_status, name="aud-status"),
    path("<int:pk>/evaluate/", portal.audience_evaluate, name="aud-evaluate"),
    path("<int:pk>/rename/", portal.audience_rename, name="aud-rename"),
    path("<int:pk>/duplicate/", portal.audience_duplicate, name="aud-duplicate"),
    path("<int:pk>/delete/", portal.audience_delete, name="aud-delete"),
    path("<int:pk>/snapshot/", portal.audience_snapshot, name="aud-snapshot"),
    path("<int:pk>/export/", portal.audience_export, name="aud-export"),
]
