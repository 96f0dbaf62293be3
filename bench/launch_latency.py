"""`python manage.py bench campaign --case launch-latency [--launches N]`

How long after its launch time a scheduled run starts, through the real machinery: this
command starts a Celery worker and a Celery beat (django-celery-beat's DatabaseScheduler)
as processes on the configured database and broker, publishes N one-off campaigns with
launch times a few seconds apart while beat runs (so beat must notice each new entry), and
reads each run's `started_at - scheduled_for`.

Baseline: a plain Celery task (`apps.core.tasks.ping`, one database round trip) sent with
`apply_async(eta=...)` for the same launch times to the same worker, its delay read from
the result's `date_done`. That is what Celery alone
gives for "run this at T" (no database scheduler, no launch bookkeeping); ours adds beat's
polling, the launch task and the run's creation. ours and baseline are the MAX delay in
seconds over the launches (the issue's bar is on every run: within 5 s); the medians are
printed beside them.

Note: beat launches every due entry of the database, as the `make run` beat would; a
double launch is harmless (one run per campaign and launch time).

`--case launch-latency-recurring`: the same for recurring campaigns (every 15 minutes,
valid since a year ago), launched by beat's crontab entries at the next whole minute;
finding the launch time a beat call belongs to must not cost more the longer the
schedule has run. Up to a minute of waiting for that minute."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from django.conf import settings
from django.utils import timezone

from bench.common import emit

SPACING_S = 2  # between launch times: each is a separate entry beat must pick up
LEAD_S = 5  # from publishing to the first launch


def _processes(tmp: Path) -> list[subprocess.Popen]:
    env = dict(os.environ)
    common = [sys.executable, "-m", "celery", "-A", "config"]
    worker = subprocess.Popen([*common, "worker", "-l", "warning", "-P", "prefork", "--concurrency", "2",
                               "-n", f"bench-latency-{os.getpid()}@%h", "--without-gossip", "--without-mingle",
                               "--without-heartbeat"], env=env, cwd=settings.BASE_DIR)
    beat = subprocess.Popen([*common, "beat", "-l", "warning", "--scheduler",
                             "django_celery_beat.schedulers:DatabaseScheduler", "--pidfile", str(tmp / "beat.pid"),
                             "--schedule", str(tmp / "beat.db")], env=env, cwd=settings.BASE_DIR)
    return [worker, beat]


def _wait_for_worker(procs: list[subprocess.Popen]) -> None:
    from config.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("the worker or beat exited at start")
        replies = app.control.ping(timeout=0.5) or []
        if any(name.startswith(f"bench-latency-{os.getpid()}@") for r in replies for name in r):
            return
    raise RuntimeError("the worker did not answer within 60 s")


def _campaign(workspace, entity_key: str, n: int):
    from apps.campaigns import services

    definition = {"nodes": [{"id": "start", "type": "start"},
                            {"id": "some", "type": "build_audience", "settings": {"definition": {
                                "entity": entity_key, "rule": {"attr": "score", "op": "gte", "value": 1}}}},
                            {"id": "end", "type": "end"}],
                  "edges": [{"from": "start", "to": "some"}, {"from": "some", "to": "end"}]}
    return services.campaign_create(workspace=workspace, actor=None, name=f"Latency {n}", definition=definition)


def run_recurring_case(workspace, launches: int) -> None:
    """`--case launch-latency-recurring`: N recurring campaigns (every 15 minutes, valid
    since a year ago: the schedule with the most launch times behind it that a campaign
    may have) whose next launch is the next whole minute at least LEAD_S away; beat's
    crontab entries launch them. The baseline: a ping task with eta at the same time."""
    from celery import current_app
    from django_celery_beat.models import PeriodicTask

    from apps.campaigns import services
    from apps.campaigns.models import Run
    from apps.campaigns.services import schedule_set
    from apps.datamodel import services as datamodel_services

    entity = datamodel_services.entity_create(
        workspace=workspace, actor=None, key="latency", primary_key={"key": "id", "type": "integer"},
        attributes=[{"key": "score", "type": "integer"}])
    campaigns = [_campaign(workspace, entity.key, n) for n in range(launches)]
    with TemporaryDirectory() as tmp:
        procs = _processes(Path(tmp))
        try:
            _wait_for_worker(procs)
            time.sleep(3)
            at = (timezone.now() + timedelta(seconds=LEAD_S + 60)).replace(second=0, microsecond=0)
            local = at.astimezone(workspace.zone)
            since = (local - timedelta(days=365)).strftime("%Y-%m-%dT%H:%M")
            spec = {"kind": "cron", "cron": f"{local.minute % 15}-59/15 * * * *", "valid_from": since}
            for campaign in campaigns:
                schedule_set(campaign=campaign, spec=spec)
                services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
            result = current_app.send_task("apps.core.tasks.ping", eta=at)
            deadline = time.monotonic() + (at - timezone.now()).total_seconds() + 60
            runs: list[Run] = []
            while time.monotonic() < deadline:
                runs = list(Run.objects.filter(campaign__in=campaigns, scheduled_for=at, started_at__isnull=False))
                if len(runs) == launches and result.ready():
                    break
                time.sleep(0.2)
            ours = [(r.started_at - r.scheduled_for).total_seconds() for r in runs]
            baseline = (result.date_done - at).total_seconds() if result.ready() and result.date_done else None
        finally:
            _stop(procs)
            PeriodicTask.objects.filter(name__in=[f"campaign:{c.pk}" for c in campaigns]).delete()
    if len(ours) != launches or baseline is None:
        emit("campaign", "launch-latency-recurring", "s", float("nan"), float("nan"), launches=launches,
             runs_started=len(ours), error="not every launch happened within 60 s")
        return
    emit("campaign", "launch-latency-recurring", "s", max(ours), baseline, launches=launches, schedule=spec["cron"],
         valid_from=since, median=round(statistics.median(ours), 3), delays=[round(d, 3) for d in sorted(ours)],
         within_5s=max(ours) <= 5, beat_max_loop_interval=settings.CELERY_BEAT_MAX_LOOP_INTERVAL)


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def run_case(workspace, launches: int) -> None:
    from celery import current_app
    from django_celery_beat.models import PeriodicTask

    from apps.campaigns import services
    from apps.campaigns.models import Run
    from apps.campaigns.services import schedule_set
    from apps.datamodel import services as datamodel_services

    entity = datamodel_services.entity_create(
        workspace=workspace, actor=None, key="latency", primary_key={"key": "id", "type": "integer"},
        attributes=[{"key": "score", "type": "integer"}])
    campaigns = [_campaign(workspace, entity.key, n) for n in range(launches)]
    with TemporaryDirectory() as tmp:
        procs = _processes(Path(tmp))
        try:
            _wait_for_worker(procs)
            time.sleep(3)  # beat's start: sync of the periodic tasks, first read of the schedule
            first = timezone.now().replace(microsecond=0) + timedelta(seconds=LEAD_S + 1)
            times = [first + timedelta(seconds=SPACING_S * n) for n in range(launches)]
            results = []
            for campaign, at in zip(campaigns, times, strict=True):
                local = at.astimezone(workspace.zone)
                schedule_set(campaign=campaign, spec={"kind": "once", "at": local.strftime("%Y-%m-%dT%H:%M:%S")})
                services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
                results.append(current_app.send_task("apps.core.tasks.ping", eta=at))
            deadline = time.monotonic() + LEAD_S + SPACING_S * launches + 60
            runs: list[Run] = []
            while time.monotonic() < deadline:
                runs = list(Run.objects.filter(campaign__in=campaigns, started_at__isnull=False))
                if len(runs) == launches and all(r.ready() for r in results):
                    break
                time.sleep(0.2)
            ours = [(r.started_at - r.scheduled_for).total_seconds() for r in runs]
            baseline = [(r.date_done - at).total_seconds() for r, at in zip(results, times, strict=True)
                        if r.ready() and r.date_done]
        finally:
            _stop(procs)
            PeriodicTask.objects.filter(name__in=[f"campaign:{c.pk}" for c in campaigns]).delete()
    if len(ours) != launches or len(baseline) != launches:
        emit("campaign", "launch-latency", "s", float("nan"), float("nan"), launches=launches,
             runs_started=len(ours), baseline_done=len(baseline), error="not every launch happened within 60 s")
        return
    emit("campaign", "launch-latency", "s", max(ours), max(baseline), launches=launches,
         median=round(statistics.median(ours), 3), baseline_median=round(statistics.median(baseline), 3),
         delays=[round(d, 3) for d in sorted(ours)], baseline_delays=[round(d, 3) for d in sorted(baseline)],
         within_5s=max(ours) <= 5, beat_max_loop_interval=settings.CELERY_BEAT_MAX_LOOP_INTERVAL)
