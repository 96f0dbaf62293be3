"""Health check and error pages (JSON under /api/, HTML elsewhere)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_S = 2.0


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure is "down", reported by name
        return f"{type(exc).__name__}: {exc}".strip()[:300]
    return None


def _check_broker() -> str | None:
    from config.celery import app  # noqa: PLC0415

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)
            conn.default_channel.client.ping()
    except Exception as exc:  # noqa: BLE001
        return f"{type(exc).__name__}: {exc}".strip()[:300]
    return None


@never_cache
@require_safe
def healthz(request):
    """200 when PostgreSQL and the Celery broker answer; 503 naming what failed."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    failing = {name: error for name, error in checks.items() if error}
    body = {
        "status": "ok" if not failing else "unavailable",
        "checks": {name: ("ok" if not error else "failing") for name, error in checks.items()},
    }
    if failing:
        body["errors"] = failing
        logger.warning("healthz failing: %s", failing)
    return JsonResponse(body, status=200 if not failing else 503)


def _wants_json(request) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def not_found(request, exception=None):
    if _wants_json(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    # Under DEBUG (DebugNotFoundMiddleware) the page also says why, for the developer.
    reason = str(exception) if settings.DEBUG and exception is not None and not isinstance(exception, Resolver404) \
        else ""
    return render(request, "errors/404.html", {"debug_reason": reason[:300]}, status=404)


class DebugNotFoundMiddleware:
    """With DEBUG on, Django answers a 404 with its technical page (the URL patterns);
    this answers with the product's own page instead, as production does: for a path no
    URL matches (so CommonMiddleware still adds a missing slash) and for an Http404 a
    view raises. Last in MIDDLEWARE, so the others (CSP, sessions) wrap its answer."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.DEBUG:
            try:
                resolve(request.path_info)
            except Resolver404 as exc:
                return not_found(request, exc)
        return self.get_response(request)

    def process_exception(self, request, exception):
        if settings.DEBUG and isinstance(exception, Http404):
            return not_found(request, exception)
        return None


def forbidden(request, exception=None):
    message = str(exception) if exception and str(exception) else "You do not have permission to do this."
    if _wants_json(request):
        return JsonResponse({"detail": message}, status=403)
    return render(request, "errors/403.html", {"message": message}, status=403)


def server_error(request):
    if _wants_json(request):
        return JsonResponse({"detail": "Server error."}, status=500)
    return render(request, "errors/500.html", {"debug": settings.DEBUG}, status=500)
