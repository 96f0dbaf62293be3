"""Secrets at rest (SMTP passwords, ESP API keys): encrypted with Fernet under a key
derived from CHANNEL_SECRETS_KEY (default: SECRET_KEY). Shown back only as a hint."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    material = getattr(settings, "CHANNEL_SECRETS_KEY", "") or settings.SECRET_KEY
    key = base64.urlsafe_b64encode(hashlib.sha256(("orchestrate-channel-secrets:" + material).encode()).digest())
    return Fernet(key)


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:  # the key changed: say so instead of sending with garbage
        raise ValueError("the stored secret cannot be decrypted with this server's key; enter it again") from exc


def hint(value: str) -> str:
    """What a screen may show of a secret."""
    if not value:
        return ""
    return "•" * 8 + value[-4:] if len(value) > 8 else "•" * 8
