"""The Celery app. Settings come from Django settings (CELERY_* names); tasks are
discovered in each app's tasks.py; periodic tasks are declared in
apps/core/periodic.py and synced into django-celery-beat when beat starts."""

import os

from celery import Celery
from celery.signals import beat_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("orchestrate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@beat_init.connect
def _sync_periodic_tasks(sender=None, **kwargs):  # pragma: no cover - exercised by beat
    from apps.core.periodic import sync_periodic_tasks

    sync_periodic_tasks()
