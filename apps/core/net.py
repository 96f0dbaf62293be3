"""The client's address, for audit events and login throttling."""

from __future__ import annotations

from django.conf import settings


def client_ip(request, *args) -> str | None:
    """REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address they saw connect.
    (Only the proxies' own entries of X-Forwarded-For can be trusted.)"""
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if count > 0:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR") or None


def login_username(request, credentials) -> str | None:
    """The email tried at login, lowercased, so capitalisation gives no extra guesses."""
    value = (credentials or {}).get("username") or request.POST.get("username")
    return value.strip().lower() if value else value
