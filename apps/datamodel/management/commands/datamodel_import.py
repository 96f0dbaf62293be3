"""python manage.py datamodel_import --workspace SLUG FILE: create (or complete) a data
model from one JSON document."""

import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.datamodel.modeldoc import model_import
from apps.tenants.models import Workspace


class Command(BaseCommand):
    help = "Import a data model (entities, attributes, relationships) from a JSON file."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--workspace", required=True)

    def handle(self, *args, file, workspace, **opts):
        ws = Workspace.objects.filter(slug=workspace).first()
        if ws is None:
            raise CommandError(f"No workspace {workspace!r}.")
        try:
            doc = json.loads(Path(file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from None
        try:
            counts = model_import(workspace=ws, actor=None, doc=doc)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(json.dumps(counts))
