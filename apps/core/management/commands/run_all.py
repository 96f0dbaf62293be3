"""`make run`: migrate, load the demo, then serve the app with a Celery worker and beat.
Ctrl-C stops every process it started (and the embedded servers, if it started them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from apps.core import embedded

SHUTDOWN_GRACE_S = 15


class Command(BaseCommand):
    help = "Run web, worker and beat together for local use."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default=os.environ.get("ORCHESTRATE_ADDR", "127.0.0.1:8000"))
        parser.add_argument("--no-demo", action="store_true", help="Skip loading the demo data.")

    def handle(self, *args, addr, no_demo, **options):
        started = set(embedded.STARTED_HERE)
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database migrated.")
        if not no_demo:
            call_command("load_demo")
        from apps.core.periodic import sync_periodic_tasks  # noqa: PLC0415

        sync_periodic_tasks()

        python = sys.executable
        manage = str(settings.BASE_DIR / "manage.py")
        env = dict(os.environ)
        # Children must use the same servers without starting their own.
        env["DATABASE_URL"] = env.get("DATABASE_URL") or settings.DATABASE_URL
        env["REDIS_URL"] = env.get("REDIS_URL") or settings.REDIS_URL
        env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        commands = {
            "web": [python, manage, "runserver", addr, "--noreload"],
            "worker": [python, "-m", "celery", "-A", "config", "worker", "-l", "info",
                       "--concurrency", "2", "-n", "local@%h"],
            "beat": [python, "-m", "celery", "-A", "config", "beat", "-l", "info"],
        }
        processes = {name: subprocess.Popen(cmd, env=env, cwd=settings.BASE_DIR) for name, cmd in commands.items()}

        self.stdout.write(self.style.SUCCESS(f"\nOrchestrate is running at http://{addr}/"))
        self.stdout.write(f"Admin: http://{addr}/admin/   API docs: http://{addr}/api/docs/")
        self.stdout.write(f"Demo logins (password: {settings.DEMO_PASSWORD!r} unless DEMO_PASSWORD was set):")
        for who in ("owner@acme.test", "admin@acme.test", "approver@acme.test", "marketer@acme.test",
                    "viewer@acme.test", "outsider@globex.test", "root@orchestrate.test (admin site)"):
            self.stdout.write(f"  {who}")
        self.stdout.write("Press Ctrl-C to stop.\n")

        stopping = False

        def _stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, _stop)
        signal.signal(signal.SIGTERM, _stop)
        exit_code = 0
        try:
            while not stopping:
                for name, proc in processes.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with code {proc.returncode}; stopping the others.")
                        exit_code = 1
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            self._shutdown(processes)
            if "postgres" in started or "redis" in started:
                from django.db import connections  # noqa: PLC0415

                connections.close_all()
            if "redis" in started:
                embedded.redis_stop()
            if "postgres" in started:
                embedded.postgres_stop()
            self.stdout.write("Stopped.")
        if exit_code:
            sys.exit(exit_code)

    def _shutdown(self, processes: dict[str, subprocess.Popen]) -> None:
        for proc in processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + SHUTDOWN_GRACE_S
        for proc in processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
