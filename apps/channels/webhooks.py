"""The email services' delivery-report webhooks: /webhooks/anymail/<esp>/tracking/.

Mounting all of django-anymail's urls exposed a webhook for every ESP it knows, each
answering 500 to junk (its parse_events does json.loads / dict lookups unguarded) and
some 500 to anything at all (an ESP whose signing key is not configured). Here only the
ESPs named in EMAIL_WEBHOOK_ESPS exist (the others, and all of them while ANYMAIL's
WEBHOOK_SECRET is unset, are 404); the basic-auth secret is checked before the body is
read (401); a body the ESP's parser cannot read is a 400; only then are the events sent
to anymail's `tracking` signal (apps.channels.events records them)."""

from __future__ import annotations

import logging
from functools import cache

from anymail import urls as anymail_urls
from anymail.exceptions import AnymailError, AnymailWebhookValidationFailure
from anymail.utils import get_request_basic_auth
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpResponse
from django.urls import path
from django.utils.crypto import constant_time_compare
from django.views.decorators.csrf import csrf_exempt

logger = logging.getLogger(__name__)

# What a parser throws at a body that is not what its ESP posts: bad JSON, missing keys,
# wrong types, undecodable bytes, anymail's own complaints.
JUNK_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError, UnicodeError, RecursionError,
               AnymailError)


@cache
def tracking_views() -> dict[str, type]:
    """anymail's tracking webhook view classes by ESP name (the url names say which)."""
    views = {}
    for pattern in anymail_urls.urlpatterns:
        name = pattern.name or ""
        if name.endswith("_tracking_webhook"):
            views[name.removesuffix("_tracking_webhook")] = pattern.callback.view_class
    return views


def configured_esps() -> set[str]:
    return {esp.strip().lower() for esp in getattr(settings, "EMAIL_WEBHOOK_ESPS", []) if esp.strip()}


def _secrets() -> list[str]:
    secret = (getattr(settings, "ANYMAIL", None) or {}).get("WEBHOOK_SECRET") or []
    return [secret] if isinstance(secret, str) else list(secret)


def _unauthorized() -> HttpResponse:
    response = HttpResponse("Missing or wrong basic auth for this webhook.", status=401,
                            content_type="text/plain; charset=utf-8")
    response["WWW-Authenticate"] = 'Basic realm="webhooks"'
    return response


def _bad_request(message: str) -> HttpResponse:
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


@csrf_exempt
def esp_tracking_webhook(request, esp: str):
    view_class = tracking_views().get(esp)
    secrets = _secrets()
    if view_class is None or esp not in configured_esps() or not secrets:
        raise Http404("No webhook here.")
    if request.method == "HEAD":  # some services probe the URL when it is configured
        return HttpResponse()
    if request.method != "POST":
        response = HttpResponse("Only POST.", status=405, content_type="text/plain; charset=utf-8")
        response["Allow"] = "POST, HEAD"
        return response
    given = get_request_basic_auth(request) or ""
    if not any(constant_time_compare(given, secret) for secret in secrets):
        return _unauthorized()
    try:
        view = view_class(basic_auth=secrets)
    except (AnymailError, ImproperlyConfigured) as exc:
        # e.g. an ESP that also signs its posts and whose signing key is not set
        logger.error("the %s webhook is not usable: %s", esp, exc)
        raise Http404("No webhook here.") from None
    try:
        view.run_validators(request)  # the ESP's own signature check, where it has one
    except AnymailWebhookValidationFailure as exc:
        return _unauthorized() if "auth" in str(exc).lower() else _bad_request(str(exc))
    try:
        events = view.parse_events(request)
    except JUNK_ERRORS as exc:
        logger.info("junk %s webhook post: %s: %s", esp, type(exc).__name__, exc)
        return _bad_request(f"This is not a {view.esp_name} tracking webhook body.")
    for event in events:
        view.signal.send(sender=view_class, event=event, esp_name=view.esp_name)
    return HttpResponse()


urlpatterns = [
    path("<slug:esp>/tracking/", esp_tracking_webhook, name="esp-tracking-webhook"),
]
