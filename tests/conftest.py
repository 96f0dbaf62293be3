"""Shared fixtures: the Healthchecks cast.

- alice: owner of the agency that owns `workspace` (reaches everything in it)
- bob: viewer of `workspace` (read-only member)
- mallory: marketer of `workspace`
- charlie: an outsider, owner of another agency with a look-alike workspace
"""

import pytest

from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory, grant


@pytest.fixture
def workspace(db):
    return WorkspaceFactory(name="Northwind", slug="northwind")


@pytest.fixture
def other_workspace(db):
    # Same name as `workspace`, another agency: a look-alike for isolation probes.
    return WorkspaceFactory(name="Northwind", slug="northwind-twin")


@pytest.fixture
def alice(workspace):
    user = UserFactory(email="alice@example.test")
    MembershipFactory(organization=workspace.organization, user=user, role="owner")
    return user


@pytest.fixture
def bob(workspace):
    return grant(UserFactory(email="bob@example.test"), workspace, "viewer")


@pytest.fixture
def mallory(workspace):
    return grant(UserFactory(email="mallory@example.test"), workspace, "marketer")


@pytest.fixture
def charlie(other_workspace):
    user = UserFactory(email="charlie@example.test")
    MembershipFactory(organization=other_workspace.organization, user=user, role="owner")
    return user


@pytest.fixture
def client_for(client):
    """Log a user in on a fresh test client: client_for(alice)."""
    from django.test import Client

    def make(user):
        c = Client()
        c.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return c

    return make


def _database_url_for_subprocess() -> str:
    """The URL of the database the tests use right now (the test database), so that a
    worker process started by a test sees what the test committed."""
    from urllib.parse import quote

    from django.db import connection

    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    host = s.get("HOST") or ""
    port = s.get("PORT") or ""
    if host.startswith("/"):
        query = f"?host={quote(host, safe='/')}" + (f"&port={port}" if port else "")
        return f"postgresql://{auth}@/{quote(s['NAME'])}{query}"
    return f"postgresql://{auth}@{host}{':' + str(port) if port else ''}/{quote(s['NAME'])}"


@pytest.fixture
def start_worker(transactional_db):
    """Start real Celery worker processes against the real broker and the test database:
    `proc = start_worker()`. Every process is killed at the end of the test."""
    import os
    import subprocess
    import sys
    import time

    from django.conf import settings

    from config.celery import app

    app.control.purge()  # tasks left over by an earlier run must not reach this worker
    processes = []

    def start(concurrency: int = 1, queues: str | None = None, name: str | None = None) -> subprocess.Popen:
        queues = queues or settings.CELERY_TASK_DEFAULT_QUEUE
        env = dict(os.environ)
        env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
        env["DATABASE_URL"] = _database_url_for_subprocess()
        env["REDIS_URL"] = settings.REDIS_URL
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "warning", "-P", "prefork",
             "--concurrency", str(concurrency), "-Q", queues, "-n", name or f"test{len(processes)}@%h",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            env=env, cwd=settings.BASE_DIR,
        )
        processes.append(proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited with {proc.returncode}")
            replies = app.control.ping(timeout=0.5) or []
            prefix = (name or f"test{len(processes) - 1}@%h").split("%h")[0]
            if any(proc_name.startswith(prefix) for r in replies for proc_name in r):
                return proc
        raise RuntimeError("worker did not answer ping within 60 s")

    yield start
    for proc in processes:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
