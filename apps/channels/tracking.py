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

from apps.core import siteurl

OPEN_SALT = "orchestrate.channels.open"
CLICK_SALT = "orchestrate.channels.click"
_HREF = re.compile(r'(<a\b[^>]*?\bhref=)(["\'])(https?://[^"\'<>\s]+)\2', re.IGNORECASE)


def base_url(config=None, delivery=None) -> str:
    """The channel configuration's tracking domain, else the client's own address
    (Workspace.public_url), else SITE_URL when it is set, else the address the
    delivery's run was started on (apps.core.siteurl)."""
    if config is not None and config.tracking_domain:
        return config.tracking_domain.rstrip("/")
    public = config.workspace.public_url if config is not None else ""
    if not public and delivery is not None:
        public = delivery.workspace.public_url
    if public:
        return public.rstrip("/")
    recorded = ((delivery.options or {}).get("site_url", "") if delivery is not None else "")
    return siteurl.link_base(recorded)


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


# --- short links: SMS links and push URLs through /s/<token> -------------------------------

SHORT_SALT = "orchestrate.channels.short"
SHORT_MAC_CHARS = 8  # ~47 bits: guessing one message's token takes ~10^14 tries (and only adds a click)
_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# A web link in an SMS: up to the first space or quote; trailing punctuation is the sentence's.
SMS_LINK = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
TRAILING = ".,;:!?)]}'\""


def b62(number: int) -> str:
    digits = []
    while True:
        number, rest = divmod(number, 62)
        digits.append(_B62[rest])
        if not number:
            return "".join(reversed(digits))


def _unb62(text: str) -> int:
    if not text or len(text) > 12 or any(c not in _B62 for c in text):
        raise signing.BadSignature("bad short token")
    number = 0
    for c in text:
        number = number * 62 + _B62.index(c)
    return number


def _short_mac(payload: str) -> str:
    """Letters and digits only (a phone's link detection keeps them all)."""
    secret = settings.SECRET_KEY
    key = _KEYS.get((SHORT_SALT, secret))
    if key is None:
        key = _KEYS[(SHORT_SALT, secret)] = hashlib.sha256(f"{SHORT_SALT}:{secret}".encode()).digest()
    digest = hashlib.blake2b(payload.encode(), key=key, digest_size=8).digest()
    return b62(int.from_bytes(digest, "big")).rjust(11, "0")[:SHORT_MAC_CHARS]


def short_token(link_pk: int, message_pk: int) -> str:
    """"<link>.<message><mac>": both ids in base 62, the MAC over both."""
    payload = f"{b62(link_pk)}.{b62(message_pk)}"
    return payload + _short_mac(payload)


def read_short(token: str) -> tuple[int, int]:
    """(link pk, message pk) of a short token; BadSignature when forged or malformed."""
    if len(token) > 40 or not token.isascii():
        raise signing.BadSignature("bad short token")
    payload, mac = token[:-SHORT_MAC_CHARS], token[-SHORT_MAC_CHARS:]
    link, dot, message = payload.partition(".")
    if not dot or not hmac.compare_digest(mac, _short_mac(payload)):
        raise signing.BadSignature("bad short token")
    return _unb62(link), _unb62(message)


def _links(text: str, skip: tuple[str, ...]):
    """(start, end, url) of each web link of `text` to shorten (not links already on the
    tracking base)."""
    for match in SMS_LINK.finditer(text):
        url = match.group(0).rstrip(TRAILING)
        if len(url) > len("https://") and not url.startswith(skip):
            yield match.start(), match.start() + len(url), url


class Shortener:
    """The short links of one delivery: each distinct URL gets its ShortLink row once
    (INSERT ... ON CONFLICT DO NOTHING, then read back), kept for the chunk; each message
    gets its own token for it."""

    def __init__(self, delivery, base):
        """`base`: the tracking base URL, or a function giving it (asked once, when the
        first link is met: a delivery without links costs no query)."""
        self.delivery, self._base = delivery, base
        self.pks: dict[str, int] = {}

    @property
    def base(self) -> str:
        if callable(self._base):
            self._base = self._base()
        return self._base.rstrip("/")

    @property
    def prefix(self) -> str:
        return f"{self.base}/s/"

    def _pks(self, urls: list[str]) -> None:
        from .models import ShortLink  # noqa: PLC0415

        missing = {hashlib.sha256(u.encode()).hexdigest(): u for u in urls if u not in self.pks}
        if not missing:
            return
        ShortLink.objects.bulk_create([ShortLink(workspace_id=self.delivery.workspace_id, delivery=self.delivery,
                                                 digest=d, url=u) for d, u in missing.items()], ignore_conflicts=True)
        for digest, pk in ShortLink.objects.filter(delivery=self.delivery, digest__in=list(missing)).values_list(
                "digest", "pk"):
            self.pks[missing[digest]] = pk

    def url(self, url: str, message_pk: int) -> str:
        """The short tracking URL of `url` in this message."""
        self._pks([url])
        return self.prefix + short_token(self.pks[url], message_pk)

    def text(self, text: str, message_pk: int) -> str:
        """An SMS text with every web link replaced by its short tracking URL."""
        if "://" not in text:
            return text
        found = list(_links(text, (self.base,)))
        if not found:
            return text
        self._pks([url for _, _, url in found])
        parts, at, prefix = [], 0, self.prefix
        for start, end, url in found:
            parts += [text[at:start], prefix + short_token(self.pks[url], message_pk)]
            at = end
        return "".join(parts) + text[at:]


def preview_text(text: str, base: str) -> str:
    """An SMS text as shortening will make it, for test runs (no rows written): each link
    replaced by a short URL of a typical length, so that its segments can be counted."""
    base = base.rstrip("/")
    found = list(_links(text, (base,)))
    parts, at = [], 0
    for start, end, _url in found:
        parts += [text[at:start], f"{base}/s/{short_token(62 ** 3, 62 ** 5)}"]
        at = end
    return "".join(parts) + text[at:]


def tracking_base(delivery, config=None) -> str:
    """Where a delivery's tracking links point: the channel configuration's tracking
    domain, else the workspace's email tracking domain, else the client's own address
    (Workspace.public_url), else SITE_URL when it is set, else the address the run was
    started on."""
    if config is not None and config.tracking_domain:
        return config.tracking_domain.rstrip("/")
    from .models import ChannelConfig  # noqa: PLC0415

    domain = ChannelConfig.objects.filter(workspace_id=delivery.workspace_id, channel="email").exclude(
        tracking_domain="").values_list("tracking_domain", flat=True).first()
    return (domain or delivery.workspace.public_url or "").rstrip("/") or siteurl.link_base(
        (delivery.options or {}).get("site_url", ""))


def shortener_for(delivery, config=None) -> Shortener | None:
    """The short links of an SMS or push delivery that tracks clicks (None otherwise)."""
    if delivery.channel not in ("sms", "push") or not (delivery.options or {}).get("track_clicks"):
        return None
    return Shortener(delivery, lambda: tracking_base(delivery, config))


def shorten_fields(shortener: Shortener, channel: str, fields: dict, message_pk: int) -> None:
    """At render time: an SMS text's links become short tracking URLs (its segments are
    counted after this); a push message's URL gets its `tracking_url` beside it."""
    if channel == "sms" and fields.get("text"):
        fields["text"] = shortener.text(fields["text"], message_pk)
    elif channel == "push" and re.match(r"^https?://", fields.get("url") or "", re.IGNORECASE):
        fields["tracking_url"] = shortener.url(fields["url"], message_pk)
