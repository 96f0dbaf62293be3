"""The address links in messages start with when nothing more specific is configured.

SITE_URL, when the operator set it, is that address. When it is unset, the product's
own address is the one it was reached on: the scheme and host of the request that
started the run (recorded on the run, copied into its deliveries). The host is taken
through `request.get_host()`, which refuses any Host header not in ALLOWED_HOSTS, so a
forged header never becomes a link in someone's inbox."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import DisallowedHost

MAX_LENGTH = 200


def request_origin(request) -> str:
    """`scheme://host[:port]` of the request, or "" when SITE_URL is set (it wins) or
    the request's host is not one this site serves."""
    if getattr(settings, "SITE_URL_SET", True) or request is None:
        return ""
    try:
        host = request.get_host()
    except DisallowedHost:
        return ""
    origin = f"{'https' if request.is_secure() else 'http'}://{host}"
    if len(origin) > MAX_LENGTH or any(c in host for c in "\r\n\t /\\@?#"):
        return ""
    return origin


def link_base(recorded: str = "") -> str:
    """SITE_URL when set, else the recorded served address, else SITE_URL's default."""
    if not getattr(settings, "SITE_URL_SET", True) and recorded:
        return recorded.rstrip("/")
    return settings.SITE_URL.rstrip("/")
