from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from apps.channels import urls as channels_urls
from apps.consent import urls as consent_urls
from apps.core import views as core_views
from apps.core.api.docs import ApiDocsView
from apps.tenants import urls as tenants_urls
from apps.tenants.api import workspaces as tenants_api
from apps.tenants.views import workspaces as tenants_views

# Everything under these two prefixes is workspace-scoped and enumerated by the isolation
# harness (tests/isolation): each app adds its routes to one of these lists.
workspace_ui_patterns = [
    path("", include("apps.tenants.urls")),
    path("data/", include("apps.datamodel.urls")),
    path("audiences/", include("apps.audiences.urls")),
    path("campaigns/", include("apps.campaigns.urls")),
    path("", include("apps.channels.urls")),
    path("consent/", include(consent_urls.workspace_patterns)),
    path("privacy/", include(consent_urls.privacy_patterns)),
    path("reports/", include("apps.reports.urls")),
]
workspace_api_patterns = [
    path("", include("apps.tenants.api.urls")),
    path("", include("apps.datamodel.api.urls")),
    path("", include("apps.audiences.api.urls")),
    path("", include("apps.campaigns.api.urls")),
    path("", include("apps.channels.api.urls")),
    path("", include("apps.consent.api.urls")),
]

urlpatterns = [
    path("", tenants_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    # Public, no login: the ends of tracking links in emails, and the email services' webhooks.
    path("t/", include(channels_urls.public_patterns)),
    path("s/", include(channels_urls.short_patterns)),
    path("m/", include(channels_urls.media_patterns)),
    path("webhooks/anymail/", include("apps.channels.webhooks")),
    path("webhooks/sms/", include(channels_urls.sms_webhook_patterns)),
    path("sender-domains/confirm/", include(channels_urls.confirm_patterns)),
    path("push/", include(channels_urls.browser_push_patterns)),
    path("brand/<str:kind>/<slug:slug>.png", tenants_views.brand_logo, name="brand-logo"),
    path("", include(consent_urls.public_patterns)),
    path("accounts/", include(tenants_urls.account_patterns)),
    path("invitations/<str:token>/", tenants_views.invitation_accept, name="invitation-accept"),
    path("agency/<slug:org_slug>/", include("apps.reports.agency_urls")),
    path("agency/<slug:org_slug>/", include(tenants_urls.agency_patterns)),
    path("w/<slug:workspace_slug>/", include(workspace_ui_patterns)),
    path("api/v1/workspaces/", tenants_api.WorkspaceListApi.as_view(), name="api-workspace-list"),
    path("api/v1/workspaces/<slug:workspace_slug>/", include(workspace_api_patterns)),
    path("api/v1/organizations/<slug:org_slug>/workspaces/<slug:workspace_slug>/<str:action>/",
         tenants_api.WorkspaceLifecycleApi.as_view(), name="api-workspace-lifecycle"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", ApiDocsView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
]

handler404 = "apps.core.views.not_found"
handler403 = "apps.core.views.forbidden"
handler500 = "apps.core.views.server_error"
