import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.test import Client

from apps.core import views as core_views
from apps.core.periodic import MANAGED_PREFIX, PERIODIC_TASKS, sync_periodic_tasks

ROOT = Path(settings.BASE_DIR)


def test_healthz_is_200_when_database_and_broker_answer(db):
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_healthz_is_503_and_names_the_broker_when_it_is_down(db, monkeypatch):
    from config.celery import app

    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {"database": "ok", "broker": "failing"}
    assert "broker" in body["errors"]


def test_healthz_is_503_and_names_the_database_when_it_fails(db, monkeypatch):
    monkeypatch.setattr(core_views, "_check_database", lambda: "OperationalError: connection refused")
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "failing", "broker": "ok"}


def test_periodic_tasks_are_synced_from_one_declaration(db):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every_hour = IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS)
    PeriodicTask.objects.create(name=MANAGED_PREFIX + "gone", task="x.y", interval=every_hour)
    result = sync_periodic_tasks()
    assert result == {"created": len(PERIODIC_TASKS), "updated": 0, "removed": 1}
    assert sync_periodic_tasks() == {"created": 0, "updated": len(PERIODIC_TASKS), "removed": 0}
    names = set(PeriodicTask.objects.filter(name__startswith=MANAGED_PREFIX).values_list("task", flat=True))
    assert names == {p.task for p in PERIODIC_TASKS}


def _manage(*args, env_extra=None, timeout=120):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def test_check_deploy_with_production_settings_reports_nothing():
    result = _manage("check", "--deploy", "--settings=config.settings.production", env_extra={
        "DATABASE_URL": "postgresql://orchestrate:secret@db.internal:5432/orchestrate",
        "REDIS_URL": "redis://redis.internal:6379/0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
        "DJANGO_ALLOWED_HOSTS": "orchestrate.example.com",
    })
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout, result.stdout + result.stderr


def test_production_settings_refuse_to_start_without_database_url():
    result = _manage("check", "--settings=config.settings.production", env_extra={
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(60), "DJANGO_ALLOWED_HOSTS": "x.example.com"})
    assert result.returncode != 0
    assert "DATABASE_URL must be set in production" in result.stderr


def test_a_manage_command_starts_the_embedded_servers_on_demand(tmp_path):
    # given no DATABASE_URL / REDIS_URL and an empty data directory
    data = tmp_path / "data"
    env = {"ORCHESTRATE_DATA_DIR": str(data)}
    try:
        # when any manage.py command runs
        result = _manage("migrate", "--noinput", env_extra=env, timeout=300)
        assert result.returncode == 0, result.stderr
        # then PostgreSQL and Redis run under the data directory and are reused
        status = _manage("embedded", "status", env_extra=env)
        assert "postgres: running" in status.stdout and "redis: running" in status.stdout, status.stdout
        again = _manage("showmigrations", "tenants", env_extra=env)
        assert "[X] 0001_initial" in again.stdout, again.stdout + again.stderr
    finally:
        stop = _manage("embedded", "stop", env_extra=env)
    assert "postgres: stopped" in stop.stdout and "redis: stopped" in stop.stdout, stop.stdout + stop.stderr
