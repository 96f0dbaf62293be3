from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import workspaces as api

router = SimpleRouter(trailing_slash=True)
router.register("members", api.MemberViewSet, basename="api-member")
router.register("api-keys", api.ApiKeyViewSet, basename="api-apikey")
router.register("audit-events", api.AuditEventViewSet, basename="api-auditevent")

urlpatterns = [
    path("", api.WorkspaceDetailApi.as_view(), name="api-workspace-detail"),
    path("", include(router.urls)),
]
