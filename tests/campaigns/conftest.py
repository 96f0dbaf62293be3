"""Fixtures shared by the campaign tests."""

import pytest

from apps.campaigns import executor
from tests.factories import make_travel_model


@pytest.fixture
def queue(monkeypatch):
    """Dispatch in-process: the same claim/execute code a worker runs, without Celery.
    Returns drain(), which runs what is queued and returns how many activities ran."""
    pending: list[int] = []
    monkeypatch.setattr(executor, "DISPATCH", pending.append)

    def drain() -> int:
        ran = 0
        while pending:
            executor.activity_execute(activity_run_id=pending.pop(0))
            ran += 1
        return ran

    return drain


@pytest.fixture
def travel(workspace):
    # The campaigns send as news@travel.test through the platform's server, which sends
    # only from a workspace's verified sender domains.
    from apps.channels.models import SenderDomain

    SenderDomain.objects.create(workspace=workspace, domain="travel.test", status="verified")
    return make_travel_model(workspace)


@pytest.fixture
def start_beat(transactional_db, tmp_path):
    """Start a real Celery beat process with django-celery-beat's DatabaseScheduler against
    the test database and the test queue, as start_worker does for workers:
    `proc = start_beat()` returns once beat has read its schedule. Killed at the end."""
    import os
    import subprocess
    import sys
    import time

    from django.conf import settings
    from django_celery_beat.models import PeriodicTask

    from tests.conftest import _database_url_for_subprocess

    processes = []

    def start() -> subprocess.Popen:
        env = dict(os.environ)
        env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
        env["DATABASE_URL"] = _database_url_for_subprocess()
        env["REDIS_URL"] = settings.REDIS_URL
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "warning",
             "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler",
             "--pidfile", str(tmp_path / f"beat{len(processes)}.pid"),
             "--schedule", str(tmp_path / f"beat{len(processes)}.db")],
            env=env, cwd=settings.BASE_DIR,
        )
        processes.append(proc)
        # Beat syncs the platform's periodic tasks on start (config/celery.py), just before
        # its scheduler's first read: their rows appearing say it is up.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"beat exited with {proc.returncode}")
            if PeriodicTask.objects.filter(name__startswith="orchestrate:").exists():
                time.sleep(1)  # the scheduler's initial read follows the sync
                return proc
            time.sleep(0.2)
        raise RuntimeError("beat did not start within 60 s")

    yield start
    for proc in processes:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
