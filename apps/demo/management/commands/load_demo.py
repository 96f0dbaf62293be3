import json
import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.demo.loader import DEFAULT_PROFILES, load_demo


class Command(BaseCommand):
    help = "Load the demo agencies, workspaces, users and client data models with some data (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--profiles", type=int, default=DEFAULT_PROFILES,
                            help="profiles per demo workspace, loaded when its profile table is empty")

    def handle(self, *args, profiles, **options):
        if not settings.DEBUG and not os.environ.get("DEMO_PASSWORD") and "test" not in settings.SETTINGS_MODULE:
            raise CommandError("Outside development, set DEMO_PASSWORD: the demo users must not get a public password.")
        self.stdout.write(json.dumps(load_demo(profiles=profiles)))
