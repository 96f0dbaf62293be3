"""Ingestion jobs: create one from an upload, run it (in a worker or inline), read its
progress. The job row holds the report; the rejected rows are a downloadable CSV."""

from __future__ import annotations

import logging
from typing import IO, Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from apps.tenants.models import Workspace
from apps.tenants.services import audit_record

from ..models import Entity, IngestionJob, IngestionMode, IngestionStatus
from . import HeaderError, Options, Report, ingest_csv, ingest_records

logger = logging.getLogger(__name__)

PROGRESS_TTL_S = 6 * 3600
MAX_BATCH_RECORDS = 10_000  # a JSON batch is one request: bigger loads go as files


def _progress_key(job_id: int) -> str:
    return f"ingest-progress:{job_id}"


def ingestion_progress(job: IngestionJob) -> dict[str, Any]:
    """Phase and bytes read of a running job (kept in the cache: the job's own row is
    only written when its transaction commits)."""
    if job.finished:
        return {"phase": job.status, "bytes": job.size_bytes, "percent": 100}
    data = cache.get(_progress_key(job.pk)) or {"phase": job.phase or job.status, "bytes": 0}
    percent = int(min(99, data["bytes"] * 100 / job.size_bytes)) if job.size_bytes else 0
    return {**data, "percent": percent}


def _clean_options(*, mode: str, max_errors: int, delimiter: str, encoding: str,
                   mapping: dict | None, date_formats: dict | None) -> dict[str, Any]:
    if mode not in IngestionMode.values:
        raise ValidationError({"mode": f"Mode must be one of {', '.join(IngestionMode.values)}."})
    if not isinstance(max_errors, int) or max_errors < 0:
        raise ValidationError({"max_errors": "max_errors must be a whole number, 0 or more."})
    if delimiter in ("\\t", "tab", "TAB"):
        delimiter = "\t"
    return {"mode": mode, "max_errors": max_errors, "delimiter": delimiter, "encoding": encoding,
            "mapping": mapping or {}, "date_formats": date_formats or {}}


def ingestion_job_create(*, workspace: Workspace, actor: Any, entity: Entity, upload: UploadedFile | IO[bytes],
                         name: str = "", mode: str = "reject", max_errors: int = 100, delimiter: str = ",",
                         encoding: str = "utf-8", mapping: dict | None = None, date_formats: dict | None = None,
                         enqueue: bool = True) -> IngestionJob:
    """Store the file and queue its load. With enqueue=False the caller runs it."""
    options = _clean_options(mode=mode, max_errors=max_errors, delimiter=delimiter, encoding=encoding,
                             mapping=mapping, date_formats=date_formats)
    name = name or getattr(upload, "name", "") or "upload.csv"
    job = IngestionJob.objects.create(
        workspace=workspace, entity=entity, source="csv", mode=options["mode"], max_errors=options["max_errors"],
        original_name=name[:255], options={k: v for k, v in options.items() if k not in ("mode", "max_errors")},
        created_by=actor if getattr(actor, "pk", None) else None)
    if isinstance(upload, UploadedFile):
        job.file.save(f"{workspace.pk}-{job.pk}.csv", upload, save=False)
    else:
        from django.core.files import File  # noqa: PLC0415

        job.file.save(f"{workspace.pk}-{job.pk}.csv", File(upload), save=False)
    job.size_bytes = job.file.size
    job.save(update_fields=["file", "size_bytes"])
    audit_record(workspace=workspace, actor=actor, verb="datamodel.ingestion_queued", target=job,
                 data={"entity": entity.key, "file": job.original_name, "bytes": job.size_bytes})
    if enqueue:
        from ..tasks import run_ingestion_job  # noqa: PLC0415

        transaction.on_commit(lambda: run_ingestion_job.delay(job.pk))
    return job


def _apply_report(job: IngestionJob, report: Report) -> None:
    for name in ("rows_seen", "inserted", "updated", "unchanged", "deleted", "rejected", "orphans", "duplicates",
                 "error_count", "errors", "message"):
        setattr(job, name, getattr(report, name))
    job.status = IngestionStatus.DONE if report.status == "done" else IngestionStatus.REJECTED
    job.options = {**job.options, "timings": report.as_dict()["timings"]}
    job.phase = report.path
    job.progress_bytes = job.size_bytes
    if report.rejected_csv:
        job.rejected_file.save(f"{job.workspace_id}-{job.pk}-rejected.csv", ContentFile(report.rejected_csv),
                               save=False)


def ingestion_job_run(*, job_id: int) -> IngestionJob | None:
    """Run a queued job once. A job that is already running or finished is left alone, so
    a duplicated task does nothing."""
    claimed = IngestionJob.objects.filter(pk=job_id, status=IngestionStatus.QUEUED).update(
        status=IngestionStatus.RUNNING, started_at=timezone.now(), phase="loading")
    if not claimed:
        return None
    job = IngestionJob.objects.select_related("entity", "workspace").get(pk=job_id)

    def progress(phase: str, done: int) -> None:
        cache.set(_progress_key(job.pk), {"phase": phase, "bytes": done}, PROGRESS_TTL_S)

    options = Options(mode=job.mode, max_errors=job.max_errors, delimiter=job.options.get("delimiter", ","),
                      encoding=job.options.get("encoding", "utf-8"), mapping=job.options.get("mapping") or None,
                      date_formats=job.options.get("date_formats") or None)
    try:
        with transaction.atomic():
            with job.file.open("rb") as stream:
                report = ingest_csv(entity=job.entity, stream=stream, options=options, progress=progress,
                                    size=job.size_bytes)
            _apply_report(job, report)
            job.finished_at = timezone.now()
            job.save()
            if report.status == "done":
                transaction.on_commit(lambda: audit_record(
                    workspace=job.workspace, actor=job.created_by, verb="datamodel.ingestion_done", target=job,
                    data={"inserted": report.inserted, "updated": report.updated, "deleted": report.deleted,
                          "rejected": report.rejected}))
    except HeaderError as exc:
        IngestionJob.objects.filter(pk=job.pk).update(
            status=IngestionStatus.REJECTED, errors=exc.errors, error_count=len(exc.errors),
            message=" ".join(e["reason"] for e in exc.errors[:5]),
            finished_at=timezone.now(), phase="header")
    except Exception as exc:  # the job must end as failed, whatever happened
        logger.exception("ingestion job %s failed", job.pk)
        IngestionJob.objects.filter(pk=job.pk).update(
            status=IngestionStatus.FAILED, message=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now())
    cache.delete(_progress_key(job.pk))
    job.refresh_from_db()
    return job


def records_batch(*, workspace: Workspace, actor: Any, entity: Entity, records: Any, mode: str = "reject",
                  max_errors: int = 100) -> IngestionJob:
    """Upsert/delete a JSON batch now (in the request's transaction), recorded as a job."""
    if isinstance(records, list) and len(records) > MAX_BATCH_RECORDS:
        raise ValidationError({"records": f"At most {MAX_BATCH_RECORDS} records per batch; send files for more."})
    options = Options(mode=mode, max_errors=max_errors)
    _clean_options(mode=mode, max_errors=max_errors, delimiter=",", encoding="utf-8", mapping=None, date_formats=None)
    job = IngestionJob(workspace=workspace, entity=entity, source="json", mode=mode, max_errors=max_errors,
                       original_name="JSON batch", status=IngestionStatus.RUNNING, started_at=timezone.now(),
                       created_by=actor if getattr(actor, "pk", None) else None)
    try:
        with transaction.atomic():
            report = ingest_records(entity=entity, records=records, options=options)
            if report.status != "done":
                raise _Rejected(report)
    except _Rejected as rejected:
        report = rejected.report
    except HeaderError as exc:
        # About the batch as a whole (an unknown key, a missing primary key): no record index.
        errors = [{"record": e.get("record"), **{k: v for k, v in e.items() if k not in ("line", "record")}}
                  for e in exc.errors]
        report = Report(status="rejected", errors=errors, error_count=len(errors),
                        message=" ".join(e["reason"] for e in errors[:5]), path="json")
    _apply_report(job, report)
    job.finished_at = timezone.now()
    job.save()
    return job


class _Rejected(Exception):
    """Rolls the batch's savepoint back, carrying the report out."""

    def __init__(self, report: Report):
        super().__init__(report.message)
        self.report = report
