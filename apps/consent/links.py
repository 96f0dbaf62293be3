"""Recipients' own links: one-click unsubscribe (RFC 8058) and the preference center.
No login: a signed token names the workspace, the profile, the channel and the topic,
and carries its issue time (links expire after the workspace's unsubscribe_link_days).

Every marketing email gets `List-Unsubscribe: <https://.../u/<token>>, <mailto:...>`
and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`; templates get
`links.unsubscribe` and `links.preferences`."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

from django.conf import settings
from django.core import signing

SALT = "orchestrate.consent.recipient-link"
_KEYS: dict[str, bytes] = {}


def _key() -> bytes:
    secret = settings.SECRET_KEY
    key = _KEYS.get(secret)
    if key is None:
        key = _KEYS[secret] = hashlib.sha256(f"{SALT}:{secret}".encode()).digest()
    return key


def _mac(payload: str) -> str:
    digest = hashlib.blake2b(payload.encode(), key=_key(), digest_size=16).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(*, workspace_id: int, profile_key: str, channel: str, topic: str = "", issued: int | None = None
               ) -> str:
    body = json.dumps([workspace_id, str(profile_key), channel, topic, int(issued or time.time())],
                      separators=(",", ":"))
    payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return f"{payload}.{_mac(payload)}"


def read_token(token: str, max_age_days: int | None = None) -> dict[str, Any]:
    """The token's content; BadSignature when tampered, SignatureExpired when too old."""
    import hmac  # noqa: PLC0415

    payload, _, mac = (token or "").partition(".")
    if not payload or not hmac.compare_digest(mac, _mac(payload)):
        raise signing.BadSignature("this link is not valid")
    try:
        workspace_id, profile_key, channel, topic, issued = json.loads(
            base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError) as exc:
        raise signing.BadSignature("this link is not valid") from exc
    if max_age_days is not None and time.time() - issued > max_age_days * 86400:
        raise signing.SignatureExpired("this link has expired")
    return {"workspace_id": int(workspace_id), "profile_key": str(profile_key), "channel": channel,
            "topic": topic, "issued": issued}


def _base() -> str:
    return settings.SITE_URL.rstrip("/")


def link_hook(delivery, row: dict[str, Any]) -> dict[str, str]:
    if delivery.proof or not row.get("profile_key"):
        return {}
    token = make_token(workspace_id=delivery.workspace_id, profile_key=row["profile_key"], channel=delivery.channel,
                       topic=(delivery.options or {}).get("topic") or "")
    return {"unsubscribe": f"{_base()}/u/{token}", "preferences": f"{_base()}/p/{token}"}


def header_hook(delivery, row: dict[str, Any], links: dict[str, str]) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe on every marketing email."""
    if delivery.channel != "email" or not links.get("unsubscribe"):
        return {}
    if (delivery.options or {}).get("category") == "transactional":
        return {}
    domain = (delivery.content.get("from_email") or "").rsplit("@", 1)[-1] or "orchestrate.invalid"
    token = links["unsubscribe"].rsplit("/", 1)[-1]
    return {"List-Unsubscribe": f"<{links['unsubscribe']}>, <mailto:unsubscribe@{domain}?subject=unsubscribe-{token}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def install() -> None:
    from apps.channels import sending  # noqa: PLC0415

    if link_hook not in sending.LINK_HOOKS:
        sending.LINK_HOOKS.append(link_hook)
    if header_hook not in sending.HEADER_HOOKS:
        sending.HEADER_HOOKS.append(header_hook)
