"""Browsers register themselves for Web Push on a client's website: the page's script
(static/push/orchestrate-push.js) subscribes with the workspace's VAPID public key and
POSTs the subscription to the public endpoint /push/<slug>/subscribe/.

Who may register whom: the endpoint is public (a browser has no API key), so the profile
is named by a *profile token* that the client's server puts in its page for the logged-in
person. The token is an HMAC of the workspace and the profile key under the server's
secret (`profile_token`): partners get it from POST .../push/profile-tokens/ with their API
key, and a browser that does not hold the token of a profile cannot register (or
unregister) devices for it. The Origin must be one of the workspace's allowed website
origins (the push settings), which keeps other sites' scripts out of browsers that obey
CORS; requests are rate-limited per IP address and per workspace."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.crypto import constant_time_compare, salted_hmac

from . import devices, push_config
from .models import PushPlatform, PushSubscription

TOKEN_SALT = "orchestrate.channels.webpush.profile"


class TokenRefused(Exception):
    """The profile token is missing or is not the token of this profile in this workspace."""


class NotConfigured(Exception):
    """The workspace has no VAPID key: browsers cannot subscribe yet."""


def profile_token(workspace, profile_key: str) -> str:
    """The token a client's server gives the page of the person with `profile_key`."""
    key = devices.clean_profile_key(profile_key)
    return salted_hmac(TOKEN_SALT, f"{workspace.pk}:{key}", algorithm="sha256").hexdigest()


def _check_token(workspace, profile_key: Any, token: Any) -> str:
    key = devices.clean_profile_key(profile_key)
    if not isinstance(token, str) or not token or not constant_time_compare(token, profile_token(workspace, key)):
        raise TokenRefused()
    return key


def allowed_origins(workspace) -> list[str]:
    config = push_config.config_of(workspace)
    return list((config.options or {}).get("web_origins") or []) if config is not None else []


def origin_allowed(workspace, origin: str | None) -> bool:
    if not origin:
        return False
    normalized = push_config.origin_of(origin)
    return normalized is not None and normalized in allowed_origins(workspace)


def browser_subscribe(*, workspace, body: Any) -> tuple[PushSubscription, bool]:
    """Registers the browser subscription of `body` ({profile_key, profile_token,
    subscription}) for its profile. ValidationError names the field; TokenRefused."""
    if not isinstance(body, dict):
        raise ValidationError({"body": "a JSON object {profile_key, profile_token, subscription}"})
    unknown = sorted(set(body) - {"profile_key", "profile_token", "subscription"})
    if unknown:
        raise ValidationError({"body": f"unknown field(s): {', '.join(unknown)}"})
    key = _check_token(workspace, body.get("profile_key"), body.get("profile_token"))
    if not push_config.secrets_of(push_config.config_of(workspace)).get("vapid_private_key"):
        raise NotConfigured()
    subscription = body.get("subscription")
    if isinstance(subscription, dict):
        extra = sorted(set(subscription) - {"endpoint", "keys", "expirationTime"})
        if extra:
            raise ValidationError({"subscription": f"unknown field(s): {', '.join(extra)}"})
    return devices.push_subscription_register(workspace=workspace, platform=PushPlatform.WEB, profile_key=key,
                                              subscription=subscription)


def browser_unsubscribe(*, workspace, body: Any) -> PushSubscription | None:
    """Deactivates the profile's browser subscription with `body["endpoint"]`; None when the
    profile has no such subscription."""
    if not isinstance(body, dict):
        raise ValidationError({"body": "a JSON object {profile_key, profile_token, endpoint}"})
    key = _check_token(workspace, body.get("profile_key"), body.get("profile_token"))
    endpoint = body.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.strip() or len(endpoint) > devices.ENDPOINT_MAX:
        raise ValidationError({"endpoint": "the subscription's endpoint URL"})
    sub = PushSubscription.objects.filter(workspace=workspace, platform=PushPlatform.WEB, token=endpoint.strip(),
                                          profile_key=key).first()
    if sub is None:
        return None
    return devices.push_subscription_deactivate(subscription=sub, reason="unsubscribed in the browser")


def limits() -> tuple[int, int]:
    """(per IP address, per workspace) registrations a minute."""
    return int(settings.PUSH_BROWSER_PER_IP_PER_MINUTE), int(settings.PUSH_BROWSER_PER_WORKSPACE_PER_MINUTE)
