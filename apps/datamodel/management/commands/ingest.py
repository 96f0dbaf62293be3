"""python manage.py ingest --workspace SLUG --entity KEY FILE [--mode reject|skip]
[--max-errors N] [--delimiter C] [--encoding E]: load a CSV now and print the JSON report."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.datamodel.ingestion.services import ingestion_job_create, ingestion_job_run
from apps.datamodel.models import Entity
from apps.tenants.models import Workspace


class Command(BaseCommand):
    help = "Load a CSV file into an entity of a workspace and print the report as JSON."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--workspace", required=True)
        parser.add_argument("--entity", required=True)
        parser.add_argument("--mode", choices=["reject", "skip"], default="reject")
        parser.add_argument("--max-errors", type=int, default=100)
        parser.add_argument("--delimiter", default=",")
        parser.add_argument("--encoding", default="utf-8")
        parser.add_argument("--date-format", action="append", default=[], metavar="ATTRIBUTE=FORMAT",
                            help="e.g. birth_date=DD/MM/YYYY (repeatable)")
        parser.add_argument("--map", action="append", default=[], metavar="HEADER=ATTRIBUTE",
                            help="map a header to an attribute; HEADER= ignores the column (repeatable)")

    def handle(self, *args, **opts):
        workspace = Workspace.objects.filter(slug=opts["workspace"]).first()
        if workspace is None:
            raise CommandError(f"No workspace {opts['workspace']!r}.")
        entity = Entity.objects.filter(workspace=workspace, key=opts["entity"]).first()
        if entity is None:
            raise CommandError(f"{workspace.slug} has no entity {opts['entity']!r}.")
        path = Path(opts["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        date_formats = dict(item.split("=", 1) for item in opts["date_format"])
        mapping = {k: (v or None) for k, v in (item.split("=", 1) for item in opts["map"])}
        with path.open("rb") as stream:
            job = ingestion_job_create(
                workspace=workspace, actor=None, entity=entity, upload=stream, name=path.name, mode=opts["mode"],
                max_errors=opts["max_errors"], delimiter=opts["delimiter"], encoding=opts["encoding"],
                mapping=mapping, date_formats=date_formats, enqueue=False)
        job = ingestion_job_run(job_id=job.pk)
        report = {
            "job": job.pk, "status": job.status, "path": job.phase, "rows": job.rows_seen, "inserted": job.inserted,
            "updated": job.updated, "unchanged": job.unchanged, "deleted": job.deleted, "rejected": job.rejected,
            "orphans": job.orphans, "duplicates": job.duplicates, "errors": job.errors[:50],
            "error_count": job.error_count, "message": job.message,
            "rejected_file": job.rejected_file.path if job.rejected_file else None,
        }
        self.stdout.write(json.dumps(report, default=str))
        if job.status != "done":
            sys.exit(1)
