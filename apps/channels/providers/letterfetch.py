"""What a letter may load while WeasyPrint lays it out: `data:` URIs and the project's own
static files, nothing else.

A letter's markup and CSS are written by the tenant, and WeasyPrint's default fetcher
reads any `file://` path (the worker's environment, another workspace's uploads under
media) and any `http://` address (services only the worker can reach); whatever it loads
lands in a PDF the tenant downloads. So every URL goes through `LetterFetcher`: `data:` is
decoded in memory, a path under STATIC_URL (relative, as `/static/css/x.css`, resolved
against STATIC_BASE) is read from the static files the project ships, and everything else
is refused before any file is opened or any socket connected. Attachments
(`<a rel="attachment">`, `<link rel="attachment">`) are dropped from the document.
"""

from __future__ import annotations

import base64
import binascii
import posixpath
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from weasyprint.urls import URLFetcher, URLFetcherResponse

# Relative URLs of a letter resolve against this made-up origin (.invalid never resolves);
# only its STATIC_URL paths mean anything.
STATIC_BASE = "https://letter.invalid/"
MAX_RESOURCE_BYTES = 5 * 1024 * 1024  # a static image or font of our own is far smaller
MEDIA_TYPES = {".css": "text/css", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
               ".gif": "image/gif", ".svg": "image/svg+xml", ".webp": "image/webp", ".woff": "font/woff",
               ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf"}


class Refused(ValueError):
    """A URL a letter may not load (WeasyPrint logs it and leaves the resource out)."""


def _data(url: str) -> URLFetcherResponse:
    head, comma, payload = url[5:].partition(",")
    if not comma:
        raise Refused("malformed data: URI")
    params = [p.strip() for p in head.split(";")]
    is_base64 = params[-1].lower() == "base64"
    if is_base64:
        params = params[:-1]
    media_type = params[0] or "text/plain"
    try:
        body = base64.b64decode(unquote_to_bytes(payload), validate=False) if is_base64 else unquote_to_bytes(payload)
    except (binascii.Error, ValueError) as exc:
        raise Refused(f"malformed data: URI ({exc})") from exc
    headers = {"Content-Type": ";".join([media_type, *params[1:]])}
    return URLFetcherResponse(url[:40], body, headers)


def static_path(url: str) -> Path | None:
    """The file of one of the project's static assets that `url` names, or None."""
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}/" != STATIC_BASE:
        return None
    prefix = "/" + settings.STATIC_URL.strip("/") + "/"
    path = unquote(parts.path)
    if not path.startswith(prefix) or "\\" in path or "\x00" in path:
        return None
    relative = path[len(prefix):]
    # urljoin already removed dot segments of the raw URL; percent-encoded ones appear
    # only now, so the path is checked again after unquoting.
    if not relative or posixpath.normpath(relative) != relative or relative.startswith(("/", "..")):
        return None
    found = finders.find(relative)
    return Path(found) if isinstance(found, str) else None


class LetterFetcher(URLFetcher):
    """A WeasyPrint URL fetcher that opens no socket and reads no file but our own static
    assets (see the module's docstring)."""

    def __init__(self):
        super().__init__(timeout=1, allowed_protocols=(), allow_redirects=False)

    def fetch(self, url, headers=None):
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "data":
            return _data(url)
        path = static_path(url) if scheme == "https" else None
        if path is None:
            raise Refused(f"a letter may load only data: URIs and {settings.STATIC_URL} files, not {url[:80]!r}")
        if path.stat().st_size > MAX_RESOURCE_BYTES:
            raise Refused(f"{url[:80]!r} is too large")
        media_type = MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream")
        return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": media_type})

    def open(self, url, data=None, timeout=None):
        return self.fetch(url.full_url if hasattr(url, "full_url") else url)


def drop_attachments(document) -> None:
    """No file is embedded in a letter's PDF: `<a rel="attachment">` links become plain
    text, `<link rel="attachment">` entries are forgotten."""
    document.metadata.attachments = []
    for page in document.pages:
        page.links[:] = [link for link in page.links if link[0] != "attachment"]
