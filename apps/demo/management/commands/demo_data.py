"""python manage.py demo_data --workspace SLUG --profiles N [--seed S] [--kind travel|retail]"""

import json
import time

from django.core.management.base import BaseCommand, CommandError

from apps.demo.generate import GENERATORS, generate
from apps.tenants.models import Workspace


class Command(BaseCommand):
    help = "Fill a workspace with deterministic demo data (its demo model is created if missing)."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True)
        parser.add_argument("--profiles", type=int, required=True)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--kind", choices=sorted(GENERATORS), default=None,
                            help="travel (customer/product/booking) or retail; by default from the workspace")

    def handle(self, *args, workspace, profiles, seed, kind, **opts):
        ws = Workspace.objects.filter(slug=workspace).first()
        if ws is None:
            raise CommandError(f"No workspace {workspace!r}.")
        if profiles < 1:
            raise CommandError("--profiles must be at least 1.")
        started = time.monotonic()
        results = generate(workspace=ws, profiles=profiles, seed=seed, kind=kind,
                           log=lambda line: self.stderr.write(line))
        self.stdout.write(json.dumps({"workspace": ws.slug, "seconds": round(time.monotonic() - started, 1),
                                      "entities": results}))
