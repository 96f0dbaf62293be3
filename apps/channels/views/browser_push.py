"""The public end of Web Push registration: a client's website's script POSTs a browser's
subscription here (no login; see apps/channels/webpush.py for who may register whom).

Answers are JSON. CORS is answered only for the workspace's allowed origins (a preflight
from any other origin is a 403 without CORS headers, so the browser blocks the call);
no cookies are read or set (credentials are never allowed), hence no CSRF token."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from apps.core import ratelimit
from apps.core.net import client_ip
from apps.tenants.models import Workspace

from .. import webpush

BODY_MAX = 8 * 1024  # a subscription is ~500 bytes; anything much larger is not one
WINDOW_S = 60


def _cors(response: HttpResponse, origin: str) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = "600"
    response["Vary"] = "Origin"
    response["Cache-Control"] = "no-store"
    return response


def _error(status: int, detail: str, errors: dict | None = None) -> JsonResponse:
    body: dict = {"detail": detail}
    if errors:
        body["errors"] = errors
    return JsonResponse(body, status=status)


def _endpoint(request: HttpRequest, workspace_slug: str, action) -> HttpResponse:
    if request.method not in ("POST", "OPTIONS"):
        response = _error(405, "POST a JSON body (OPTIONS for the CORS preflight)")
        response["Allow"] = "POST, OPTIONS"
        return response
    workspace = Workspace.objects.filter(slug=workspace_slug, archived_at__isnull=True).first()
    if workspace is None:
        return _error(404, "not found")
    origin = request.headers.get("Origin", "")
    per_ip, per_workspace = webpush.limits()
    if request.method == "POST":
        if not ratelimit.allow("push-browser-ip", client_ip(request) or "?", limit=per_ip, window_s=WINDOW_S):
            response = _error(429, "too many registrations from this address: try again in a minute")
            response["Retry-After"] = str(WINDOW_S)
            return _cors(response, origin) if webpush.origin_allowed(workspace, origin) else response
    if not webpush.origin_allowed(workspace, origin):
        return _error(403, "this website origin may not register browsers for the workspace (allowed origins: "
                           "Settings → Push)" if origin else "an Origin header is required")
    if request.method == "OPTIONS":
        if request.headers.get("Access-Control-Request-Method", "POST").upper() != "POST":
            return _error(405, "only POST is allowed")
        return _cors(HttpResponse(status=204), origin)
    if not ratelimit.allow("push-browser-ws", str(workspace.pk), limit=per_workspace, window_s=WINDOW_S):
        response = _error(429, "too many registrations for this workspace: try again in a minute")
        response["Retry-After"] = str(WINDOW_S)
        return _cors(response, origin)
    return _cors(_handle(request, workspace, action), origin)


def _handle(request: HttpRequest, workspace, action) -> JsonResponse:
    if request.content_type != "application/json":
        return _error(415, "send the body as application/json")
    if len(request.body) > BODY_MAX:
        return _error(413, f"the body is larger than {BODY_MAX} bytes")
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "the body is not JSON", {"body": ["not valid JSON"]})
    try:
        return action(workspace, body)
    except webpush.TokenRefused:
        return _error(403, "profile_token is not the token of this profile", {"profile_token": ["does not match"]})
    except webpush.NotConfigured:
        return _error(409, "Web Push is not set up for this workspace (no VAPID key)")
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"body": exc.messages}
        return _error(400, "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()), errors)


def _subscribe(workspace, body) -> JsonResponse:
    sub, created = webpush.browser_subscribe(workspace=workspace, body=body)
    return JsonResponse({"subscribed": True, "device": sub.pk}, status=201 if created else 200)


def _unsubscribe(workspace, body) -> JsonResponse:
    sub = webpush.browser_unsubscribe(workspace=workspace, body=body)
    if sub is None:
        return _error(404, "this profile has no browser subscription with this endpoint")
    return JsonResponse({"subscribed": False, "device": sub.pk})


@csrf_exempt
def browser_subscribe(request, workspace_slug):
    return _endpoint(request, workspace_slug, _subscribe)


@csrf_exempt
def browser_unsubscribe(request, workspace_slug):
    return _endpoint(request, workspace_slug, _unsubscribe)
