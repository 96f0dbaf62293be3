import json

from django.core.management.base import BaseCommand, CommandError

from apps.datamodel.modeldoc import model_export
from apps.tenants.models import Workspace


class Command(BaseCommand):
    help = "Print a workspace's data model as one JSON document (the format datamodel_import reads)."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True)

    def handle(self, *args, workspace, **opts):
        ws = Workspace.objects.filter(slug=workspace).first()
        if ws is None:
            raise CommandError(f"No workspace {workspace!r}.")
        self.stdout.write(json.dumps(model_export(workspace=ws), indent=2))
