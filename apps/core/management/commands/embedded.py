"""Manage the embedded PostgreSQL and Redis: `manage.py embedded status|start|stop`.

`status` and `stop` start nothing (manage.py tells the settings not to): status only
reports, and `stop --delete-data` deletes the data directory of the servers it stopped
(ORCHESTRATE_DATA_DIR, else .data), which is what `make clean-data` runs."""

import shutil

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.core import embedded


class Command(BaseCommand):
    help = "Start, stop or show the embedded PostgreSQL and Redis (used when DATABASE_URL / REDIS_URL are unset)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["status", "start", "stop"])
        parser.add_argument("--delete-data", action="store_true",
                            help="with stop: then delete the data directory (ORCHESTRATE_DATA_DIR, else .data)")

    def handle(self, *args, action, delete_data=False, **options):
        if delete_data and action != "stop":
            raise CommandError("--delete-data goes with stop only.")
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
            if delete_data:
                self._delete(embedded.data_dir())
        elif action == "status":
            self.stdout.write(f"data dir: {embedded.data_dir()}")
            self.stdout.write(f"postgres: {'running' if embedded.postgres_running() else 'stopped'}")
            self.stdout.write(f"redis: {'running' if embedded._redis_pid() else 'stopped'}")
        else:  # pragma: no cover
            raise CommandError(action)

    def _delete(self, directory) -> None:
        if not embedded.deletable(directory):
            raise CommandError(f"Not deleting {directory}: it is the project, the home directory or one of their "
                               "parents. Point ORCHESTRATE_DATA_DIR at the data directory itself.")
        if not directory.exists():
            self.stdout.write(f"data dir: {directory} (nothing to delete)")
            return
        shutil.rmtree(directory)
        self.stdout.write(f"data dir: {directory} deleted")
