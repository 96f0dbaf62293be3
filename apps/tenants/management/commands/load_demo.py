import json

from django.core.management.base import BaseCommand

from apps.tenants.demo import load_demo


class Command(BaseCommand):
    help = "Load the demo agencies, workspaces and users (idempotent)."

    def handle(self, *args, **options):
        import os

        from django.conf import settings
        from django.core.management.base import CommandError

        if not settings.DEBUG and not os.environ.get("DEMO_PASSWORD") and "test" not in settings.SETTINGS_MODULE:
            raise CommandError("Outside development, set DEMO_PASSWORD: the demo users must not get a public password.")
        self.stdout.write(json.dumps(load_demo()))
