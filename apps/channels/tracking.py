"""Tracking links: an open pixel and click redirects, signed so that they cannot be
forged nor used as open redirects (the target URL is inside the signature). The views
that answer them record MessageEvents (views.tracking)."""

from __future__ import annotations

import re

from django.conf import settings
from django.core import signing

OPEN_SALT = "orchestrate.channels.open"
CLICK_SALT = "orchestrate.channels.click"
_HREF = re.compile(r'(<a\b[^>]*?\bhref=)(["\'])(https?://[^"\'<>\s]+)\2', re.IGNORECASE)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def base_url(config=None) -> str:
    return ((config and config.tracking_domain) or settings.SITE_URL).rstrip("/")


def open_token(message_pk: int) -> str:
    return signing.Signer(salt=OPEN_SALT).sign(str(message_pk))


def click_token(message_pk: int, url: str) -> str:
    return signing.dumps([message_pk, url], salt=CLICK_SALT, compress=True)


def read_open(token: str) -> int:
    return int(signing.Signer(salt=OPEN_SALT).unsign(token))


def read_click(token: str) -> tuple[int, str]:
    message_pk, url = signing.loads(token, salt=CLICK_SALT)
    if not isinstance(url, str) or not re.match(r"^https?://", url):
        raise signing.BadSignature("not a web link")
    return int(message_pk), url


def rewrite(html: str, message_pk: int, base: str, clicks: bool, opens: bool, skip_prefixes=()) -> str:
    """Links through the click redirect (not our own links: unsubscribe, preferences),
    and the open pixel before </body>."""
    if clicks:
        def repl(match):
            url = match.group(3).replace("&amp;", "&")
            if url.startswith(base) or any(url.startswith(p) for p in skip_prefixes):
                return match.group(0)
            return f"{match.group(1)}{match.group(2)}{base}/t/c/{click_token(message_pk, url)}{match.group(2)}"
        html = _HREF.sub(repl, html)
    if opens:
        pixel = f'<img src="{base}/t/o/{open_token(message_pk)}.gif" width="1" height="1" alt="" style="display:none">'
        html, found = _BODY_END.subn(pixel + "</body>", html, count=1)
        if not found:
            html += pixel
    return html
