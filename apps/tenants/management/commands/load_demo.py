import json

from django.core.management.base import BaseCommand

from apps.tenants.demo import load_demo


class Command(BaseCommand):
    help = "Load the demo agencies, workspaces and users (idempotent)."

    def handle(self, *args, **options):
        self.stdout.write(json.dumps(load_demo()))
