"""The model overview: the entity-relationship diagram, the entities and links of the
workspace, a new-entity form, and the model as a JSON document (export / import)."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from pathlib import Path

from django.contrib import messages
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from apps.core.htmx import add_errors, render_partial, render_region
from apps.core.inputs import InputRejected, json_loads_checked
from apps.tenants.decorators import can_edit, workspace_view
from apps.tenants.roles import WorkspaceRole

from .. import services
from ..erd import diagram_for
from ..forms import AttributeFormSet, EntityCreateForm, ModelImportForm
from ..modeldoc import model_export, model_import
from ..models import AddressRole
from ..selectors import address_mapping, entity_list, entity_row_counts, relationship_list

MODEL_REGIONS = ("erd-panel", "entities-panel", "relationships-panel", "profile-panel", "entity-create")
MAX_IMPORT_BYTES = 2 << 20  # a model document is metadata: megabytes means a wrong file


def _entity_url(workspace_slug: str):
    return lambda key: reverse("data-entity", kwargs={"workspace_slug": workspace_slug, "entity_key": key})


def model_context(request, **extra) -> dict:
    ws = request.workspace
    entities = list(entity_list(workspace=ws))
    relationships = list(relationship_list(workspace=ws).order_by("source__key", "key"))
    counts = entity_row_counts(workspace=ws, entities=entities)
    links: dict[int, list[int]] = {e.pk: [0, 0] for e in entities}
    for rel in relationships:
        links[rel.source_id][0] += 1
        links[rel.target_id][1] += 1
    profile, mapping = address_mapping(workspace=ws)
    roles = dict(AddressRole.choices)
    return {
        "entities": [{"entity": e, "attributes": len(e.attributes.all()), "rows": counts.get(e.key),
                      "outgoing": links[e.pk][0], "incoming": links[e.pk][1]} for e in entities],
        "relationships": relationships,
        "diagram": diagram_for(entities, relationships, href=_entity_url(ws.slug)),
        "profile": profile,
        "mapping": [(roles[role], key) for role, key in mapping.items()],
        "create_form": EntityCreateForm(),
        "attr_formset": AttributeFormSet(prefix="attr"),
        "import_form": ModelImportForm(),
        "can_edit": can_edit(request),
        "section": "model",
        **extra,
    }


@vary_on_headers("HX-Request")
@require_GET
@workspace_view()
def model(request, workspace_slug):
    """The model at a glance; htmx requests get the region they target."""
    return render_region(request, "datamodel/model.html", model_context(request), MODEL_REGIONS)


@require_GET
@workspace_view()
def erd_svg(request, workspace_slug):
    """The diagram as an SVG file."""
    ws = request.workspace
    diagram = diagram_for(entity_list(workspace=ws), relationship_list(workspace=ws), href=_entity_url(ws.slug))
    css, css_hash = _erd_style()
    svg = render_to_string("datamodel/_erd.svg", {"diagram": diagram, "workspace": ws, "erd_css": css})
    response = HttpResponse('<?xml version="1.0" encoding="UTF-8"?>\n' + svg, content_type="image/svg+xml")
    response["Content-Disposition"] = f'inline; filename="{ws.slug}-model.svg"'
    # The file stands alone, so it carries its stylesheet; the CSP admits exactly that one.
    response._csp_update = {"style-src": [css_hash]}
    return response


@functools.cache
def _erd_style() -> tuple[str, str]:
    """The diagram's stylesheet (static/css/erd.css, which the page links) and its CSP hash."""
    path = finders.find("css/erd.css")
    css = Path(path).read_text()
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    return css, f"'sha256-{digest}'"


@require_POST
@workspace_view()
def entity_create(request, workspace_slug):
    """A new entity with its primary key and the attribute rows that were filled in."""
    form = EntityCreateForm(request.POST)
    formset = AttributeFormSet(request.POST, prefix="attr")
    created = None
    if form.is_valid() and formset.is_valid():
        data = form.cleaned_data
        specs = [f.spec() for f in formset if f.has_changed() and f.cleaned_data]
        try:
            created = services.entity_create(
                workspace=request.workspace, actor=request.user, key=data["key"].strip(), label=data["label"],
                description=data["description"], primary_key={"key": data["pk_key"].strip(), "type": data["pk_type"]},
                attributes=specs)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"The entity {created.key} was created with {len(specs) + 1} attribute(s).")
            if not request.htmx:
                return redirect("data-entity", workspace_slug=workspace_slug, entity_key=created.key)
            form, formset = EntityCreateForm(), AttributeFormSet(prefix="attr")
    context = model_context(request, create_form=form, attr_formset=formset, created=created, create_open=True)
    if request.htmx:
        return render_partial(request, "datamodel/model.html", "entity-create", context, status=200 if created else 422,
                              trigger="entitiesChanged" if created else None)
    return render(request, "datamodel/model.html", context)


@require_GET
@workspace_view()
def model_download(request, workspace_slug):
    """The whole model as a JSON document (the format model import reads)."""
    doc = model_export(workspace=request.workspace)
    response = HttpResponse(json.dumps(doc, indent=2, ensure_ascii=False), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{request.workspace.slug}-model.json"'
    return response


@require_POST
@workspace_view(write_role=WorkspaceRole.MARKETER)
def model_upload(request, workspace_slug):
    """Create or complete the model from a JSON document: all or nothing."""
    form = ModelImportForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data.get("file")
        try:
            if upload is not None and upload.size > MAX_IMPORT_BYTES:
                raise ValidationError(f"The file is {upload.size:,} bytes: a model document is far smaller. "
                                      "Is it the data rather than the model?")
            raw = upload.read() if upload is not None else form.cleaned_data["document"].encode()
            try:
                doc = json_loads_checked(raw.decode("utf-8-sig"))
            except InputRejected as exc:
                raise ValidationError(f"{exc.field}: {exc.message}" if exc.field != "body" else exc.message) from None
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValidationError(f"This is not a JSON document: {exc}.") from None
            counts = model_import(workspace=request.workspace, actor=request.user, doc=doc)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, "Imported: {entities} new entit(ies), {attributes} attribute(s), "
                                      "{relationships} link(s).".format(**counts))
            return redirect("data-model", workspace_slug=workspace_slug)
    return render(request, "datamodel/model.html", model_context(request, import_form=form, import_open=True))
