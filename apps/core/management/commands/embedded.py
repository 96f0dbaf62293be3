"""Manage the embedded PostgreSQL and Redis: `manage.py embedded status|start|stop`."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core import embedded


class Command(BaseCommand):
    help = "Start, stop or show the embedded PostgreSQL and Redis (used when DATABASE_URL / REDIS_URL are unset)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "start", "stop"])

    def handle(self, *args, action, **options):
        if action == "start":
            # Settings already started both on demand; report where they are.
            self.stdout.write(f"database: {settings.DATABASES['default']['HOST'] or 'localhost'}")
            self.stdout.write(f"redis: {settings.REDIS_URL}")
        elif action == "stop":
            from django.db import connections  # noqa: PLC0415

            connections.close_all()
            pg = embedded.postgres_stop()
            rd = embedded.redis_stop()
            self.stdout.write(f"postgres: {'stopped' if pg else 'not running'}")
            self.stdout.write(f"redis: {'stopped' if rd else 'not running'}")
        elif action == "status":
            self.stdout.write(f"data dir: {embedded.data_dir()}")
            self.stdout.write(f"postgres: {'running' if embedded.postgres_running() else 'stopped'}")
            self.stdout.write(f"redis: {'running' if embedded._redis_pid() else 'stopped'}")
        else:  # pragma: no cover
            raise CommandError(action)
