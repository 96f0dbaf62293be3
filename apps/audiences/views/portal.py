"""The audience portal: the list, an audience's page (its rule in sentences, size and
'evaluate now', snapshots with a progress bar, export, rename, duplicate, delete) and the
upload of a list of keys."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import DatabaseError
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from apps.audiences.rules.definition import RuleError
from apps.core.htmx import add_errors, go, render_partial, render_region
from apps.datamodel.models import Entity
from apps.datamodel.schema import Schema
from apps.datamodel.selectors import entity_list
from apps.tenants.decorators import can_edit, workspace_view

from .. import selectors, services
from ..forms import ExportForm, FilterForm, RenameForm, SnapshotForm, UploadListForm
from ..models import AudienceOrigin, AudienceStatus
from ._common import MARKETER, VIEWER, default_attribute, detail_url, list_definition
from ._sentences import Sentences
from ._tree import dump_definition

LIST_PAGE_SIZE = 50
DETAIL = "audiences/detail.html"
DETAIL_REGIONS = ("audience-head", "audience-status", "audience-snapshot", "audience-delete")


@vary_on_headers("HX-Request")
@require_GET
@workspace_view()
def audience_list(request, workspace_slug):
    """Every audience of the workspace, filtered by entity and origin."""
    ws = request.workspace
    entities = list(Entity.objects.filter(workspace=ws).only("key", "label").order_by("label"))
    form = FilterForm(request.GET or None, entities=entities)
    qs = selectors.audience_list(workspace=ws)
    if form.is_valid():
        if form.cleaned_data["entity"]:
            qs = qs.filter(entity__key=form.cleaned_data["entity"])
        if form.cleaned_data["origin"]:
            qs = qs.filter(origin=form.cleaned_data["origin"])
    page = Paginator(qs, LIST_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"page": page, "filter_form": form, "filtered": form.is_bound and form.has_changed(),
               "has_entities": bool(entities), "can_edit": can_edit(request)}
    return render_region(request, "audiences/list.html", context, ("audience-list",))


def _detail_context(request, audience, **extra) -> dict:
    ws = request.workspace
    schema = Schema.load(ws)
    names = dict(selectors.audience_list(workspace=ws).values_list("pk", "name"))
    described = None
    if audience.origin != AudienceOrigin.UPLOAD:
        described = Sentences(schema, audience_names=names).definition(audience.definition)
    attributes = list(schema.attributes.get(audience.entity_id, {}).values())
    stamp = timezone.localtime(timezone.now(), ws.zone).strftime("%Y-%m-%d %H:%M")
    context = {
        "audience": audience,
        "described": described,
        "usages": selectors.audience_usages(audience),
        "preview_definition": dump_definition(list_definition(audience)),
        "attributes": attributes,
        "default_attribute": default_attribute(attributes),
        "export_form": ExportForm(attributes=attributes),
        "rename_form": RenameForm(initial={"name": audience.name, "description": audience.description}),
        "snapshot_form": SnapshotForm(initial={"name": f"{audience.name} · {stamp}"}),
        "can_edit": can_edit(request),
        "report": audience.upload_report if audience.origin == AudienceOrigin.UPLOAD else None,
        "is_ready": audience.status == AudienceStatus.READY,
        "delete_error": None,
        "building_since": _since(audience.created_at),
    }
    context.update(extra)
    return context


def _since(moment) -> str:
    seconds = int((timezone.now() - moment).total_seconds())
    if seconds < 60:
        return "just now"
    minutes = seconds // 60
    return f"{minutes} minute{'' if minutes == 1 else 's'} ago" if minutes < 120 else f"{minutes // 60} hours ago"


def _region(request, audience, region: str, *, status: int = 200, trigger: str | None = None, **extra):
    """One region of the audience's page for htmx; the whole page otherwise."""
    return render_partial(request, DETAIL, region, _detail_context(request, audience, **extra), status=status,
                          trigger=trigger)


@vary_on_headers("HX-Request")
@require_GET
@workspace_view()
def audience_detail(request, workspace_slug, pk):
    audience = selectors.access_audience(request.user, request.workspace, pk)
    return render_region(request, DETAIL, _detail_context(request, audience), DETAIL_REGIONS)


@require_GET
@workspace_view()
def audience_status(request, workspace_slug, pk):
    """The size region, polled every second while a snapshot builds; the poll that sees
    it finished also brings the export and preview tools (out of band)."""
    audience = selectors.access_audience(request.user, request.workspace, pk)
    context = _detail_context(request, audience)
    body = render_to_string(f"{DETAIL}#audience-status", context, request=request)
    if audience.status != AudienceStatus.BUILDING:
        body += render_to_string(f"{DETAIL}#audience-tools", {**context, "oob": True}, request=request)
    response = HttpResponse(body)
    add_never_cache_headers(response)
    return response


@require_POST
@workspace_view(write_role=VIEWER)
def audience_evaluate(request, workspace_slug, pk):
    """Count a rule audience now and remember its size (a refresh of a cached figure:
    viewers may do it)."""
    audience = selectors.access_audience(request.user, request.workspace, pk)
    error = None
    if audience.is_list:
        error = "A list's size is fixed: it is the number of keys it holds."
    else:
        try:
            result = selectors.count(definition=selectors.definition_of(audience))
        except RuleError as exc:
            error = "The rule no longer fits the data model: " + "; ".join(p["message"] for p in exc.problems)
        except DatabaseError:
            error = "The database gave up on this rule (it took too long)."
        else:
            services.audience_record_count(audience=audience, result=result)
            audience.refresh_from_db()
            if not request.htmx:  # (htmx: the size region shows the new figure)
                messages.success(request, f"{audience.name} matches {result.count:,} "
                                          f"record{'' if result.count == 1 else 's'} now.")
    if error:
        messages.error(request, error)
    if not request.htmx:
        return go(request, detail_url(audience))
    return _region(request, audience, "audience-status", trigger="audienceChanged")


@require_POST
@workspace_view()
def audience_rename(request, workspace_slug, pk):
    audience = selectors.access_audience(request.user, request.workspace, pk)
    form = RenameForm(request.POST)
    if form.is_valid():
        try:
            services.audience_update(workspace=request.workspace, actor=request.user, audience=audience,
                                     name=form.cleaned_data["name"], description=form.cleaned_data["description"])
        except ValidationError as exc:
            audience.refresh_from_db()
            add_errors(form, exc)
        else:
            messages.success(request, f"Saved as “{audience.name}”.")
            if not request.htmx:
                return go(request, detail_url(audience))
            return _region(request, audience, "audience-head", trigger="audienceChanged")
    return _region(request, audience, "audience-head", status=422, rename_form=form, rename_open=True)


@require_POST
@workspace_view()
def audience_duplicate(request, workspace_slug, pk):
    audience = selectors.access_audience(request.user, request.workspace, pk)
    try:
        copy = services.audience_duplicate(workspace=request.workspace, actor=request.user, audience=audience)
    except ValidationError as exc:  # a snapshot that is not built
        messages.error(request, " ".join(exc.messages))
        return go(request, detail_url(audience))
    messages.success(request, f"“{copy.name}” is a copy of “{audience.name}”.")
    return go(request, detail_url(copy))


@require_POST
@workspace_view()
def audience_delete(request, workspace_slug, pk):
    """Deleted unless something uses it; then the page says what."""
    audience = selectors.access_audience(request.user, request.workspace, pk)
    try:
        services.audience_delete(workspace=request.workspace, actor=request.user, audience=audience)
    except ValidationError as exc:
        return _region(request, audience, "audience-delete", status=422, delete_error=" ".join(exc.messages))
    messages.success(request, f"The audience “{audience.name}” was deleted.")
    return go(request, reverse("aud-list", kwargs={"workspace_slug": workspace_slug}))


@require_POST
@workspace_view()
def audience_snapshot(request, workspace_slug, pk):
    """Freeze what the audience matches now into a new list audience; it is built by a
    worker, and its page shows the progress."""
    audience = selectors.access_audience(request.user, request.workspace, pk)
    form = SnapshotForm(request.POST)
    if form.is_valid():
        try:
            snapshot = services.snapshot_create(workspace=request.workspace, actor=request.user,
                                                name=form.cleaned_data["name"], source=audience)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"The snapshot “{snapshot.name}” is being taken.")
            return go(request, detail_url(snapshot))
    return _region(request, audience, "audience-snapshot", status=422, snapshot_form=form, snapshot_open=True)


@require_POST
@workspace_view()
def audience_export(request, workspace_slug, pk):
    """The audience's records as a CSV download: the chosen columns, spreadsheet formulas
    defused. Data leaving the workspace: marketers only, and recorded in the audit log."""
    audience = selectors.access_audience(request.user, request.workspace, pk)
    schema = Schema.load(request.workspace)
    form = ExportForm(request.POST, attributes=list(schema.attributes.get(audience.entity_id, {}).values()))
    if audience.status != AudienceStatus.READY:
        messages.error(request, "This audience is not ready: it can be exported once it is built.")
        return go(request, detail_url(audience))
    if not form.is_valid():
        messages.error(request, "Choose columns of " + audience.entity.label + ".")
        return go(request, detail_url(audience))
    rows = services.audience_export(workspace=request.workspace, actor=request.user, audience=audience,
                                    attributes=form.cleaned_data["attributes"] or None)
    response = StreamingHttpResponse(rows, content_type="text/csv; charset=utf-8")
    filename = slugify(audience.name) or f"audience-{audience.pk}"
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    add_never_cache_headers(response)
    return response


@require_http_methods(["GET", "POST"])
@workspace_view(read_role=MARKETER)
def audience_upload(request, workspace_slug):
    """A list audience from a CSV file of keys; its page shows what matched."""
    ws = request.workspace
    entities = list(entity_list(workspace=ws))
    initial = {"entity": next((e.key for e in entities if e.is_profile), "")}
    form = UploadListForm(request.POST or None, request.FILES or None, entities=entities, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        entity = next(e for e in entities if e.key == data["entity"])
        try:
            audience = services.upload_create(
                workspace=ws, actor=request.user, name=data["name"], entity=entity, stream=data["file"].file,
                column=data["column"].strip() or None, encoding=data["encoding"], delimiter=data["delimiter"])
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            report = audience.upload_report
            messages.success(request, f"“{audience.name}” holds {report['matched']:,} of the "
                                      f"{report['uploaded']:,} keys uploaded.")
            return go(request, detail_url(audience))
    return render(request, "audiences/upload.html", {"form": form, "has_entities": bool(entities),
                                                     "can_edit": True})
