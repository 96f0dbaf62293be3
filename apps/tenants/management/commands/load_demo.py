import json
import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.tenants.demo import load_demo
from apps.tenants.models import Workspace


class Command(BaseCommand):
    help = "Load the demo agencies, workspaces, users and client data models with some data (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--profiles", type=int, default=2000,
                            help="profiles per demo workspace, loaded when its profile table is empty")

    def handle(self, *args, profiles, **options):
        if not settings.DEBUG and not os.environ.get("DEMO_PASSWORD") and "test" not in settings.SETTINGS_MODULE:
            raise CommandError("Outside development, set DEMO_PASSWORD: the demo users must not get a public password.")
        counts = load_demo()
        from apps.channels.demo import verify_demo_sender  # noqa: PLC0415
        from apps.datamodel.demo.generate import KINDS, generate  # noqa: PLC0415
        from apps.datamodel.models import Entity  # noqa: PLC0415
        from apps.datamodel.selectors import records_count  # noqa: PLC0415
        from apps.tenants.demo import ORGANIZATIONS  # noqa: PLC0415

        demo_slugs = [ws["slug"] for org in ORGANIZATIONS for ws in org["workspaces"]]
        for workspace in Workspace.objects.filter(slug__in=demo_slugs):
            # The platform's server sends only from verified domains: the demo's are.
            if verify_demo_sender(workspace):
                counts[f"sender:{workspace.slug}"] = 1
        for slug in KINDS:
            workspace = Workspace.objects.get(slug=slug)
            profile = Entity.objects.filter(workspace=workspace, is_profile=True).first()
            if profile is None or records_count(entity=profile) == 0:
                generate(workspace=workspace, profiles=profiles)
                counts[f"data:{slug}"] = profiles
            if KINDS[slug] == "travel":
                from apps.consent.demo import load_messaging_demo  # noqa: PLC0415

                messaging = load_messaging_demo(workspace)
                if messaging:
                    counts[f"messaging:{slug}"] = messaging
        self.stdout.write(json.dumps(counts))
