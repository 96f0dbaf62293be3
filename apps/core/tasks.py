"""Platform housekeeping tasks. Thin: each calls one function and is safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

BEAT_HEARTBEAT_KEY = "beat:last-heartbeat"


@shared_task(name="apps.core.tasks.ping")
def ping() -> dict:
    """Round trip through the broker and a worker to the database (used by tests and ops)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (database,) = cursor.fetchone()
    return {"pong": True, "database": database}


@shared_task(name="apps.core.tasks.beat_heartbeat")
def beat_heartbeat() -> str:
    """Written every minute by beat through a worker: shows both are alive."""
    now = timezone.now().isoformat()
    cache.set(BEAT_HEARTBEAT_KEY, now, timeout=None)
    return now


@shared_task(name="apps.core.tasks.clear_expired_sessions")
def clear_expired_sessions() -> None:
    from django.contrib.sessions.models import Session

    Session.objects.filter(expire_date__lt=timezone.now()).delete()
