"""Every periodic task of the platform, declared here and nowhere else. Beat syncs them
into django-celery-beat when it starts (config/celery.py), and so does `make run`:
entries are created or updated by name; entries we declared once and no longer declare
are removed (entries added by hand in the admin, or per campaign, are left alone)."""

from __future__ import annotations

from dataclasses import dataclass

MANAGED_PREFIX = "orchestrate:"


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    every_seconds: int | None = None
    crontab: str | None = None  # "minute hour day_of_month month_of_year day_of_week", UTC


PERIODIC_TASKS: list[Periodic] = [
    Periodic("beat heartbeat", "apps.core.tasks.beat_heartbeat", every_seconds=60),
    Periodic("clear expired sessions", "apps.core.tasks.clear_expired_sessions", crontab="17 3 * * *"),
    Periodic("wake campaign timers", "apps.campaigns.tasks.wake_timers", every_seconds=30),
    # Often: a dead worker's claims are taken over by the next sweep.
    Periodic("sweep deliveries", "apps.channels.tasks.sweep_deliveries", every_seconds=5),
    # Report counts: the ledger triggers' deltas folded into the rollups.
    Periodic("fold report rollups", "apps.reports.tasks.rollups_compact", every_seconds=60),
    # Weekly reports by email: each at its hour of its workspace's zone.
    Periodic("send weekly reports", "apps.reports.tasks.weekly_reports_send", crontab="5 * * * *"),
    Periodic("purge campaign working tables", "apps.campaigns.tasks.purge_working_tables", crontab="23 * * * *"),
]


def sync_periodic_tasks() -> dict[str, int]:
    from django.db import transaction  # noqa: PLC0415
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask  # noqa: PLC0415

    created = updated = removed = 0
    with transaction.atomic():
        for item in PERIODIC_TASKS:
            defaults: dict = {"task": item.task, "enabled": True, "interval": None, "crontab": None}
            if item.every_seconds is not None:
                defaults["interval"], _ = IntervalSchedule.objects.get_or_create(
                    every=item.every_seconds, period=IntervalSchedule.SECONDS)
            else:
                minute, hour, dom, month, dow = (item.crontab or "").split()
                defaults["crontab"], _ = CrontabSchedule.objects.get_or_create(
                    minute=minute, hour=hour, day_of_month=dom, month_of_year=month, day_of_week=dow,
                    timezone="UTC")
            _, was_created = PeriodicTask.objects.update_or_create(
                name=MANAGED_PREFIX + item.name, defaults=defaults)
            created += was_created
            updated += not was_created
        declared = {MANAGED_PREFIX + item.name for item in PERIODIC_TASKS}
        removed, _ = (PeriodicTask.objects.filter(name__startswith=MANAGED_PREFIX)
                      .exclude(name__in=declared).delete())
    return {"created": created, "updated": updated, "removed": removed}
