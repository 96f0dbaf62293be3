"""The push device registry: which devices and browsers may receive push messages for a
profile. A mobile app's backend registers its users' FCM / APNs tokens through the partner
API; a website registers browsers' Web Push subscriptions. Registering the same token again
updates it (another profile, a new app id, a refreshed last_seen) and reactivates it; a
provider that says the token is gone deactivates it (`push_subscription_deactivate`)."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.tenants.access import access_object

from .models import PushPlatform, PushSubscription

FCM_TOKEN = re.compile(r"^[A-Za-z0-9_:\-.]{20,4096}$")
APNS_TOKEN = re.compile(r"^[0-9a-f]{64,200}$")
APP_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,200}$")  # a bundle id is an HTTP header value (apns-topic)
PROFILE_KEY_MAX = 200
ENDPOINT_MAX = 2048


def _b64url(value: Any, field: str, length: int) -> str:
    text = str(value or "").strip()
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if not re.fullmatch(r"[A-Za-z0-9_\-]+=*", text or "!") or len(raw) != length:
        raise ValidationError({field: f"must be the browser's base64url value of {length} bytes"})
    if field.endswith("p256dh") and raw[0] != 4:
        raise ValidationError({field: "must be an uncompressed P-256 public key (65 bytes starting 0x04)"})
    return text.rstrip("=")


def endpoint_allowed(endpoint: str) -> bool:
    """True when the Web Push endpoint names one of PUSH_WEB_ENDPOINT_HOSTS over https
    (or http when PUSH_WEB_ALLOW_HTTP): the platform POSTs there, so it is never a host the
    tenant chose freely."""
    try:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return False
    if parts.scheme != "https" and not (parts.scheme == "http" and settings.PUSH_WEB_ALLOW_HTTP):
        return False
    if parts.username or parts.password or not host:
        return False
    for allowed in settings.PUSH_WEB_ENDPOINT_HOSTS:
        if host == allowed or (allowed.startswith(".") and host.endswith(allowed)):
            return True
    return False


def clean_profile_key(profile_key: Any) -> str:
    key = str(profile_key if isinstance(profile_key, str | int) and not isinstance(profile_key, bool) else "").strip()
    if not key or len(key) > PROFILE_KEY_MAX or any(c in key for c in "\r\n\0"):
        raise ValidationError({"profile_key": f"must be 1 to {PROFILE_KEY_MAX} characters on one line"})
    return key


def masked(sub: PushSubscription) -> str:
    """What a screen shows of a device: the push service's host for a browser, the ends of
    a token otherwise (the full token is a credential to message the device)."""
    if sub.platform == PushPlatform.WEB:
        return urlsplit(sub.token).hostname or "?"
    return f"{sub.token[:6]}…{sub.token[-4:]}" if len(sub.token) > 12 else "…"


def clean_registration(*, platform: Any, profile_key: Any, token: Any = None, subscription: Any = None,
                       app_id: Any = "") -> dict[str, Any]:
    """The registration's fields, checked; ValidationError naming the field otherwise."""
    if platform not in PushPlatform.values:
        raise ValidationError({"platform": f"must be one of {', '.join(PushPlatform.values)}"})
    key = clean_profile_key(profile_key)
    app = str(app_id or "").strip()
    if app and not APP_ID.match(app):
        raise ValidationError({"app_id": "letters, digits and . _ : - only (at most 200)"})
    keys: dict[str, str] = {}
    if platform == PushPlatform.WEB:
        if token:
            raise ValidationError({"token": "a Web Push registration gives `subscription`, not `token`"})
        if not isinstance(subscription, dict):
            raise ValidationError({"subscription": "must be the browser's PushSubscription as JSON: "
                                                   "{endpoint, keys: {p256dh, auth}}"})
        value = str(subscription.get("endpoint") or "").strip()
        if not value or len(value) > ENDPOINT_MAX or not endpoint_allowed(value):
            raise ValidationError({"subscription.endpoint": "must be the https URL of a known push service"})
        raw_keys = subscription.get("keys")
        if not isinstance(raw_keys, dict):
            raise ValidationError({"subscription.keys": "must be an object with p256dh and auth"})
        keys = {"p256dh": _b64url(raw_keys.get("p256dh"), "subscription.keys.p256dh", 65),
                "auth": _b64url(raw_keys.get("auth"), "subscription.keys.auth", 16)}
    else:
        if subscription:
            raise ValidationError({"subscription": f"an {platform} registration gives `token`, not `subscription`"})
        value = str(token or "").strip()
        if platform == PushPlatform.IOS:
            value = value.lower()
            if not APNS_TOKEN.match(value):
                raise ValidationError({"token": "must be the APNs device token in hex (64 characters or more)"})
        elif not FCM_TOKEN.match(value):
            raise ValidationError({"token": "must be the FCM registration token (20 to 4096 characters)"})
    return {"platform": platform, "profile_key": key, "token": value, "keys": keys, "app_id": app}


def push_subscription_register(*, workspace, platform: Any, profile_key: Any, token: Any = None,
                               subscription: Any = None, app_id: Any = "") -> tuple[PushSubscription, bool]:
    """Registers a device (or refreshes it: same workspace, platform and token); returns it
    and whether it is new. A re-registered token belongs to the profile that registered it
    last, and is active again."""
    data = clean_registration(platform=platform, profile_key=profile_key, token=token, subscription=subscription,
                              app_id=app_id)
    now = timezone.now()
    defaults = {"profile_key": data["profile_key"], "keys": data["keys"], "app_id": data["app_id"],
                "last_seen_at": now, "active": True, "deactivated_at": None, "deactivated_reason": ""}
    try:
        with transaction.atomic():
            return PushSubscription.objects.update_or_create(
                workspace=workspace, platform=data["platform"], token=data["token"], defaults=defaults)
    except IntegrityError:  # two registrations of one token at once: the other one made it
        sub = PushSubscription.objects.get(workspace=workspace, platform=data["platform"], token=data["token"])
        for name, value in defaults.items():
            setattr(sub, name, value)
        sub.save(update_fields=list(defaults))
        return sub, False


def push_subscription_deactivate(*, subscription: PushSubscription, reason: str) -> PushSubscription:
    """Stops sending to the device (the app unregistered it, or the provider says it is gone)."""
    if subscription.active:
        subscription.active = False
        subscription.deactivated_at = timezone.now()
        subscription.deactivated_reason = reason[:200]
        subscription.save(update_fields=["active", "deactivated_at", "deactivated_reason"])
    return subscription


def push_token_invalid(*, workspace_id: int, platform: str, token: str, reason: str) -> int:
    """A provider said the token is unregistered or invalid: deactivate it at once (by
    workspace, platform and token; a sending task knows no subscription row)."""
    return PushSubscription.objects.filter(workspace_id=workspace_id, platform=platform, token=token,
                                           active=True).update(active=False, deactivated_at=timezone.now(),
                                                               deactivated_reason=reason[:200])


def access_push_subscription(actor: Any, workspace, pk: Any) -> PushSubscription:
    return access_object(PushSubscription.objects.all(), workspace, pk)


def push_subscription_list(*, workspace, profile_key: str | None = None, platform: str | None = None,
                           active: bool | None = None) -> QuerySet[PushSubscription]:
    qs = PushSubscription.objects.filter(workspace=workspace)
    if profile_key:
        qs = qs.filter(profile_key=profile_key)
    if platform:
        qs = qs.filter(platform=platform)
    if active is not None:
        qs = qs.filter(active=active)
    return qs.order_by("-last_seen_at", "-id")
