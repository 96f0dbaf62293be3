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

from apps.core import siteurl

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
    # The JSON of [workspace, profile, channel, topic, issued], written directly: this
    # runs for every message sent (json.dumps alone cost more than the rest of the token).
    body = (f"[{int(workspace_id)},{_json_str(str(profile_key))},{_json_str(channel)},{_json_str(topic)},"
            f"{int(issued or time.time())}]")
    payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
    return f"{payload}.{_mac(payload)}"


def _json_str(value: str) -> str:
    if value.isalnum() or (value.replace("-", "").replace("_", "").replace(".", "").isalnum() and value.isascii()):
        return f'"{value}"'
    return json.dumps(value)


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


class _LinkMaker:
    """What every message of one delivery shares, prepared once (settings lookups, the
    key, the token's fixed parts): links are made for every message sent."""

    def __init__(self, delivery):
        # The client's own address when it has one (a CNAME to this platform), else ours.
        self.base = (delivery.workspace.public_url or "").rstrip("/") or siteurl.link_base(
            (delivery.options or {}).get("site_url", ""))
        self.key = _key()
        self.head = f"[{int(delivery.workspace_id)},"
        self.tail = (f",{_json_str(delivery.channel)},{_json_str((delivery.options or {}).get('topic') or '')},"
                     f"{int(time.time())}]")

    def links(self, profile_key: str) -> dict[str, str]:
        body = f"{self.head}{_json_str(str(profile_key))}{self.tail}"
        payload = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")
        digest = hashlib.blake2b(payload.encode(), key=self.key, digest_size=16).digest()
        token = f"{payload}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"
        return {"unsubscribe": f"{self.base}/u/{token}", "preferences": f"{self.base}/p/{token}"}


def link_hook(delivery, row: dict[str, Any]) -> dict[str, str]:
    if delivery.proof or not row.get("profile_key"):
        return {}
    maker = delivery.__dict__.get("_consent_links")
    if maker is None:
        maker = delivery.__dict__["_consent_links"] = _LinkMaker(delivery)
    return maker.links(row["profile_key"])


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

