"""Isolation probes for the push settings page, its service worker download, the record
page's device switch and the profile tokens API (see probes.py for what a probe says)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from apps.channels.models import PushSubscription
from apps.tenants.models import Workspace
from tests.isolation.probes import Probe

_counter = iter(range(1, 10**6))


def _device(ws: Workspace) -> dict[str, Any]:
    sub = PushSubscription.objects.create(workspace=ws, profile_key="p1", platform="android",
                                          token=f"probe-ui-fcm-token-{next(_counter):08d}-abcdefgh",
                                          last_seen_at=timezone.now())
    return {"pk": sub.pk}


def _test_device(ws: Workspace) -> dict[str, Any]:
    sub = PushSubscription.objects.filter(workspace=ws).order_by("id").first()
    return {"device": sub.pk if sub else 0}


PROBES: list[Probe] = [
    # Every member reads the push settings (the website snippet); workspace admins change them.
    Probe("chan-push-settings", {"GET": "viewer", "POST": "admin"},
          data=lambda ws: {"vapid_subject": f"mailto:ops{next(_counter)}@example.test",
                           "apns_environment": "production", "web_origins": "https://www.example.test"}),
    Probe("chan-push-keys", {"POST": "admin"}),
    Probe("chan-push-test", {"POST": "admin"}, setup=_device, data=_test_device, writes=False),
    Probe("chan-push-service-worker", {"GET": "viewer"}),
    Probe("chan-push-device-deactivate", {"POST": "marketer"}, make=_device),
    Probe("api-push-profile-tokens", {"POST": "marketer"}, data=lambda ws: {"profile_key": "p1"}, api=True,
          writes=False),
]
