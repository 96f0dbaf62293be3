"""CSV ingestion screens: the upload form, the list of loads, and a load's page with a
progress bar that polls its status until the job ends, then shows the report."""

from __future__ import annotations

from pathlib import PurePath

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_http_methods

from apps.core.htmx import add_errors
from apps.tenants.decorators import can_edit, workspace_view
from apps.tenants.roles import WorkspaceRole

from ..forms import UploadForm
from ..ingestion.services import ingestion_job_create, ingestion_progress
from ..models import IngestionStatus
from ..selectors import access_entity, access_ingestion_job, entity_list, ingestion_job_list

ERRORS_SHOWN = 100  # the report lists the first errors; all are in the rejected-rows file
PHASES = {
    "queued": "Waiting for a worker",
    "loading": "Reading the file",
    "checking": "Checking the rows",
    "merging": "Writing the rows",
    "direct": "Loaded straight into the table",
    "staged": "Checked and merged",
    "robust": "Checked row by row and merged",
    "header": "The header was refused",
}


@require_GET
@workspace_view(read_role=WorkspaceRole.MARKETER)
def upload_start(request, workspace_slug):
    """Choose the entity a file goes into."""
    return render(request, "datamodel/upload_start.html", {
        "entities": entity_list(workspace=request.workspace), "section": "upload", "can_edit": True})


@require_http_methods(["GET", "POST"])
@workspace_view(read_role=WorkspaceRole.MARKETER)
def upload(request, workspace_slug, entity_key):
    """The upload form: file, mode, delimiter, encoding, and per attribute an optional
    column name and date format. The load runs as a background job."""
    ws = request.workspace
    entity = access_entity(request.user, ws, entity_key)
    entities = list(entity_list(workspace=ws))
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES, entity=entity)
        if form.is_valid():
            data = form.cleaned_data
            try:
                job = ingestion_job_create(
                    workspace=ws, actor=request.user, entity=entity, upload=data["file"], mode=data["mode"],
                    max_errors=data["max_errors"], delimiter=data["delimiter"], encoding=data["encoding"],
                    mapping=form.mapping(), date_formats=form.date_formats())
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, f"{job.original_name} is queued for loading into {entity.label}.")
                return redirect("data-job", workspace_slug=workspace_slug, pk=job.pk)
    else:
        form = UploadForm(entity=entity)
    context = {"entity": entity, "entities": entities, "form": form, "section": "upload", "can_edit": True,
               "recent": ingestion_job_list(workspace=ws, entity=entity)[:5]}
    return render(request, "datamodel/upload.html", context)


@require_GET
@workspace_view()
def jobs(request, workspace_slug):
    """Every load of the workspace, newest first."""
    ws = request.workspace
    qs = ingestion_job_list(workspace=ws)
    entity_key = request.GET.get("entity")
    entity = None
    if entity_key:
        entity = access_entity(request.user, ws, entity_key)
        qs = qs.filter(entity=entity)
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "datamodel/jobs.html", {"page": page, "entity": entity, "section": "loads",
                                                   "can_edit": can_edit(request)})


def _duration(job) -> str:
    if not (job.started_at and job.finished_at):
        return ""
    seconds = (job.finished_at - job.started_at).total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes} min {seconds} s"


def _job_context(request, job) -> dict:
    progress = ingestion_progress(job)
    delimiter = job.options.get("delimiter", ",")
    return {
        "delimiter_label": "tab" if delimiter == "\t" else delimiter,
        "duration": _duration(job),
        "job": job,
        "progress": progress,
        "phase_label": PHASES.get(progress["phase"], progress["phase"].replace("_", " ").capitalize()),
        "errors": job.errors[:ERRORS_SHOWN],
        "more_errors": max(0, job.error_count - min(len(job.errors), ERRORS_SHOWN)),
        "is_success": job.status == IngestionStatus.DONE,
        "section": "loads",
        "can_edit": can_edit(request),
    }


@require_GET
@workspace_view()
def job(request, workspace_slug, pk):
    """A load: its options, its progress, then its report."""
    job = access_ingestion_job(request.user, request.workspace, pk)
    return render(request, "datamodel/job.html", _job_context(request, job))


@require_GET
@workspace_view()
def job_status(request, workspace_slug, pk):
    """The progress region alone, polled every second until the job ends (the finished
    region has no trigger, so polling stops)."""
    job = access_ingestion_job(request.user, request.workspace, pk)
    response = render(request, "datamodel/job.html#job-status", _job_context(request, job))
    add_never_cache_headers(response)
    return response


@require_GET
@workspace_view()
def job_rejected(request, workspace_slug, pk):
    """The rejected rows as CSV: line, reasons, then the row as it was."""
    job = access_ingestion_job(request.user, request.workspace, pk)
    if not job.rejected_file:
        raise Http404("This load has no rejected rows.")
    try:
        handle = job.rejected_file.open("rb")
    except FileNotFoundError:
        raise Http404("The rejected-rows file is gone.") from None
    stem = PurePath(job.original_name or "upload").stem or "upload"
    return FileResponse(handle, as_attachment=True, filename=f"{stem}-rejected-rows.csv", content_type="text/csv")
