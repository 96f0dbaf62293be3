"""The public ends of tracking links (no login): the open pixel and the click redirect.

The pixel answers the same GIF whatever the token, so it tells nobody whether a token is
valid. The redirect only ever goes to the URL inside a valid signature: a forged or
edited token is a 404, never a redirect elsewhere (no open redirect)."""

from __future__ import annotations

from django.core import signing
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_safe

from apps.core.net import client_ip

from .. import events, tracking

# A transparent 1x1 GIF.
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
         b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def _user_agent(request) -> str:
    return request.META.get("HTTP_USER_AGENT", "")


@require_safe
def open_pixel(request, token: str):
    try:
        message_pk = tracking.read_open(token)
    except (signing.BadSignature, ValueError):
        message_pk = None
    if message_pk is not None and request.method == "GET":
        events.tracked_open(message_pk=message_pk, user_agent=_user_agent(request), ip=client_ip(request))
    response = HttpResponse(PIXEL, content_type="image/gif")
    add_never_cache_headers(response)  # every open must reach us, not a proxy's copy
    return response


@require_safe
def click(request, token: str):
    try:
        message_pk, url = tracking.read_click(token)
    except (signing.BadSignature, ValueError, TypeError):
        raise Http404("No such link.") from None
    if request.method == "GET":
        events.tracked_click(message_pk=message_pk, url=url, user_agent=_user_agent(request), ip=client_ip(request))
    response = HttpResponseRedirect(url)
    add_never_cache_headers(response)
    return response


@require_safe
def short_link(request, token: str):
    """/s/<token>: an SMS link or a push notification's URL. A GET records a click on the
    message (a push tap also its open); HEAD (link previews, unfurlers) records nothing.
    An unknown or forged token is a 404."""
    from ..models import ShortLink  # noqa: PLC0415

    try:
        link_pk, message_pk = tracking.read_short(token)
    except (signing.BadSignature, ValueError):
        raise Http404("No such link.") from None
    link = ShortLink.objects.filter(pk=link_pk).select_related("delivery").only("url", "delivery__channel").first()
    if link is None:
        raise Http404("No such link.")
    if request.method == "GET":
        events.short_link_followed(link=link, message_pk=message_pk, user_agent=_user_agent(request),
                                   ip=client_ip(request))
    response = HttpResponseRedirect(link.url)
    add_never_cache_headers(response)
    return response
