"""Tracking links: an open pixel and click redirects, signed so that they cannot be
forged nor used as open redirects (the target URL is inside the signature). The views
that answer them record MessageEvents (views.tracking)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from django.conf import settings
from django.core import signing

OPEN_SALT = "orchestrate.channels.open"
CLICK_SALT = "orchestrate.channels.click"
_HREF = re.compile(r'(<a\b[^>]*?\bhref=)(["\'])(https?://[^"\'<>\s]+)\2', re.IGNORECASE)


def base_url(config=None) -> str:
    return ((config and config.tracking_domain) or settings.SITE_URL).rstrip("/")


# Tokens are built for every message and link, so they are cheap: a keyed BLAKE2b MAC
# (a MAC by design, and ten times faster here than an OpenSSL HMAC call) under a key
# derived from SECRET_KEY once: "<message id>.<mac>" and "<message id>.<b64 url>.<mac>".
_KEYS: dict[tuple[str, str], bytes] = {}


def _sign(salt: str, payload: str) -> str:
    secret = settings.SECRET_KEY
    key = _KEYS.get((salt, secret))
    if key is None:
        key = _KEYS[(salt, secret)] = hashlib.sha256(f"{salt}:{secret}".encode()).digest()
    digest = hashlib.blake2b(payload.encode(), key=key, digest_size=16).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def open_token(message_pk: int) -> str:
    return f"{message_pk}.{_sign(OPEN_SALT, str(message_pk))}"


def click_token(message_pk: int, url: str) -> str:
    encoded = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    return f"{message_pk}.{encoded}.{_sign(CLICK_SALT, f'{message_pk}.{encoded}')}"


def read_open(token: str) -> int:
    message_pk, _, sig = token.partition(".")
    if not message_pk.isdigit() or not hmac.compare_digest(sig, _sign(OPEN_SALT, message_pk)):
        raise signing.BadSignature("bad open token")
    return int(message_pk)


def read_click(token: str) -> tuple[int, str]:
    parts = token.split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        raise signing.BadSignature("bad click token")
    message_pk, encoded, sig = parts
    if not hmac.compare_digest(sig, _sign(CLICK_SALT, f"{message_pk}.{encoded}")):
        raise signing.BadSignature("bad click token")
    try:
        url = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except ValueError as exc:
        raise signing.BadSignature("bad click token") from exc
    if not re.match(r"^https?://", url):
        raise signing.BadSignature("not a web link")
    return int(message_pk), url


class Tracker:
    """Rewrites one delivery's rendered HTML: links through the click redirect (not our
    own links: unsubscribe, preferences), the open pixel before </body>. Keys and
    prefixes are prepared once per delivery; this runs for every message."""

    def __init__(self, base: str, clicks: bool = True, opens: bool = True, skip_prefixes=()):
        self.base, self.clicks, self.opens = base, clicks, opens
        self.skip = (base, *skip_prefixes)
        self.click_prefix, self.open_prefix = f"{base}/t/c/", f"{base}/t/o/"
        secret = settings.SECRET_KEY
        self.click_key = hashlib.sha256(f"{CLICK_SALT}:{secret}".encode()).digest()
        self.open_key = hashlib.sha256(f"{OPEN_SALT}:{secret}".encode()).digest()

    @staticmethod
    def _mac(key: bytes, payload: str) -> str:
        digest = hashlib.blake2b(payload.encode(), key=key, digest_size=16).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def rewrite(self, html: str, message_pk: int) -> str:
        if self.clicks:
            skip, prefix, key = self.skip, self.click_prefix, self.click_key

            def repl(match):
                url = match.group(3)
                if url.startswith(skip):
                    return match.group(0)
                url = url.replace("&amp;", "&")
                encoded = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
                payload = f"{message_pk}.{encoded}"
                quote = match.group(2)
                return f"{match.group(1)}{quote}{prefix}{payload}.{self._mac(key, payload)}{quote}"

            html = _HREF.sub(repl, html)
        if self.opens:
            pixel = (f'<img src="{self.open_prefix}{message_pk}.{self._mac(self.open_key, str(message_pk))}.gif" '
                     'width="1" height="1" alt="" style="display:none">')
            at = html.rfind("</body>")
            if at < 0:
                at = html.lower().rfind("</body")
            html = html[:at] + pixel + html[at:] if at >= 0 else html + pixel
        return html


def rewrite(html: str, message_pk: int, base: str, clicks: bool, opens: bool, skip_prefixes=()) -> str:
    """One-off rewrite (sending uses a Tracker per delivery)."""
    return Tracker(base, clicks, opens, skip_prefixes).rewrite(html, message_pk)
