"""Data subject requests: the pages under /w/<slug>/privacy/ and the API under
/api/v1/workspaces/<slug>/profiles/<key>/ (workspace admins only)."""

from django.urls import path

from . import api_dsr
from .views import dsr

ui_patterns = [
    path("", dsr.dsr_home, name="dsr-home"),
    path("<str:key>/export/", dsr.dsr_export, name="dsr-export"),
    path("<str:key>/erase/", dsr.dsr_erase, name="dsr-erase"),
]

api_patterns = [
    path("profiles/<str:key>/export/", api_dsr.ProfileExportApi.as_view(), name="api-dsr-export"),
    path("profiles/<str:key>/erase/", api_dsr.ProfileEraseApi.as_view(), name="api-dsr-erase"),
]
