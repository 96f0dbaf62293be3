"""Isolation probes for the push device registry API (see probes.py for what a probe says)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from apps.channels.models import PushSubscription
from apps.tenants.models import Workspace
from tests.isolation.probes import Probe

_counter = iter(range(1, 10**6))


def _token() -> str:
    return f"probe-fcm-token-{next(_counter):08d}-abcdefgh"


def _device(ws: Workspace) -> dict[str, Any]:
    sub = PushSubscription.objects.create(workspace=ws, profile_key="p1", platform="android", token=_token(),
                                          last_seen_at=timezone.now())
    return {"pk": sub.pk}


def _register(ws: Workspace) -> dict[str, Any]:
    return {"platform": "android", "profile_key": "p1", "token": _token()}


def _unregister_token(ws: Workspace) -> str:
    return f"probe-unregister-{ws.slug}-token"


def _unregister_device(ws: Workspace) -> dict[str, Any]:
    PushSubscription.objects.get_or_create(workspace=ws, platform="android", token=_unregister_token(ws),
                                           defaults={"profile_key": "p1", "last_seen_at": timezone.now()})
    return {}


PROBES: list[Probe] = [
    Probe("api-chan-push", {"GET": "admin", "PUT": "admin"},
          data=lambda ws: {"options": {"vapid_subject": f"mailto:ops{next(_counter)}@example.test"},
                           "generate_vapid": True}, api=True),
    Probe("api-push-subscriptions", {"GET": "viewer", "POST": "marketer"}, data=_register, api=True),
    Probe("api-push-subscription", {"GET": "viewer", "DELETE": "marketer"}, make=_device, api=True),
    Probe("api-push-subscription-unregister", {"POST": "marketer"}, setup=_unregister_device,
          data=lambda ws: {"platform": "android", "token": _unregister_token(ws)}, api=True),
]
