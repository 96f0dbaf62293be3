"""`Authorization: Bearer <key>` for partners. A key reaches exactly one workspace."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from .models import ApiKey

KEY_PREFIX = "orc_"
# last_used_at is written at most once a minute per key: a busy partner must not turn
# every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(raw: str) -> str:
    # Keys carry 192 random bits, so a fast hash is safe (no dictionary to attack).
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiKeyUser:
    """The request.user of an API-key request: authenticated, bound to one workspace."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key

    def __str__(self) -> str:
        return f"API key {self.api_key.name} ({self.api_key.prefix}…)"

    @property
    def display_name(self) -> str:
        return str(self)


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request)
        if not header:
            return None
        try:
            text = header.decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: it must be ASCII, as 'Bearer <key>'."
            ) from None
        parts = text.split()
        if not parts or parts[0].lower() != self.keyword.lower():
            raise exceptions.AuthenticationFailed(
                "Unsupported Authorization scheme: send 'Authorization: Bearer <key>'."
            )
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header: expected exactly 'Bearer <key>'."
            )
        raw = parts[1]
        if not raw.startswith(KEY_PREFIX):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        key = ApiKey.objects.select_related("workspace").filter(key_hash=hash_key(raw)).first()
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        now = timezone.now()
        if key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        if key.expires_at is not None and key.expires_at <= now:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        if key.last_used_at is None or key.last_used_at < now - LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
        return ApiKeyUser(key), key

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'
