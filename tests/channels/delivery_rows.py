"""Deliveries and messages made as rows, for tests that need a ledger but no sending."""

from __future__ import annotations

import datetime as dt
from itertools import count

from django.utils import timezone

from apps.channels.models import Delivery, Message

_keys = count(1)


def make_delivery(workspace, *, statuses=None, status="sending", campaign=None, run=None, content=None,
                  name="Spring sale") -> Delivery:
    """A delivery whose messages have the given states: {"sent": 2, "excluded:no_address": 1}."""
    delivery = Delivery.objects.create(
        workspace=workspace, channel="email", name=name, status=status, campaign=campaign, run=run,
        content=content if content is not None else {"subject": "Hello {{ profile.first_name }}",
                                                     "html": "<p>Hello <b>there</b></p>"},
        options={"track_opens": True, "track_clicks": True}, expires_at=timezone.now() + dt.timedelta(hours=12))
    rows = []
    for spec, n in (statuses or {}).items():
        state, _, reason = spec.partition(":")
        for _ in range(n):
            key = str(next(_keys))
            rows.append(Message(workspace=workspace, delivery=delivery, profile_key=key, target_key=key,
                                address=f"r{key}@example.test", status=state, reason=reason,
                                sent_at=timezone.now() if state == "sent" else None))
    Message.objects.bulk_create(rows)
    delivery.total = len(rows)
    delivery.save(update_fields=["total"])
    return delivery
