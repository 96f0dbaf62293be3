"""Process entry points of `bench send` (imported by spawned processes before Django is
set up, so nothing Django-related is imported at module level)."""

from __future__ import annotations

import os
import smtplib


def child_send(delivery_pk: int, ready, go) -> None:
    """Set up Django, say so, wait for the start signal, then send until nothing is left."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import django

    django.setup()
    from django.db import connection

    from apps.channels import sending

    sending.DISPATCH = lambda _pk: None
    connection.ensure_connection()
    ready.release()
    go.wait()
    while sending.send_some(delivery_pk, budget=3600)["sent"]:
        pass


def child_raw(port: int, count: int, payload: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(count):
            smtp.sendmail("news@travel.test", [f"raw{i}@example.test"], payload)
