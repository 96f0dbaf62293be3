"""The rule builder: a page holding the rule's JSON in a hidden field. Every action (add,
nest, move, remove, negate, a changed attribute, operator or value) posts the JSON and
the builder's inputs; the server edits the JSON and renders the builder again. The same
form saves. Without JavaScript every button still works (the page comes back whole)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from apps.audiences.rules.definition import RuleError, check_definition
from apps.core.htmx import add_errors, go
from apps.datamodel.schema import Schema
from apps.tenants.decorators import workspace_view

from .. import selectors, services
from ..forms import AudienceSaveForm
from ..models import Audience
from ..selectors import access_audience
from ._common import MARKETER, default_attribute, detail_url
from ._display import Display
from ._rules import edit
from ._tree import DefinitionError, dump_definition, load_definition
from .preview import LIVE_COUNT_TIMEOUT_MS

PAGE = "audiences/builder.html"


def picker_audiences(workspace, exclude: int | None = None) -> list[Audience]:
    """Audiences an in_audience condition may name (not the one being edited)."""
    qs = Audience.objects.filter(workspace=workspace).only("id", "name", "entity_id", "origin").order_by("name")
    return [a for a in qs if a.pk != exclude]


def problems_of(workspace, schema: Schema, definition: dict, audience: Audience | None) -> list[dict]:
    try:
        check_definition(workspace=workspace, definition=definition, schema=schema,
                         visiting={audience.pk} if audience else None)
    except RuleError as exc:
        return exc.problems
    return []


def result_entity(schema: Schema, definition: dict):
    """The entity the rule's keys end on (after a change of dimension), for the previews."""
    entity = schema.entities.get(definition.get("entity")) if isinstance(definition.get("entity"), str) else None
    dimension = definition.get("dimension")
    for name in dimension if entity is not None and isinstance(dimension, list) else []:
        up = schema.outgoing[entity.pk].get(name) if isinstance(name, str) else None
        down = schema.incoming[entity.pk].get(name) if isinstance(name, str) else None
        if up is None and down is None:
            break
        entity = up.target if up is not None else down.source
    return entity


def builder_context(request, schema: Schema, definition: dict, *, audience: Audience | None, form,
                    problems: list[dict] | None = None, show_missing: bool = False, **extra) -> dict[str, Any]:
    ws = request.workspace
    if problems is None:
        problems = problems_of(ws, schema, definition, audience)
    display = Display(schema, definition, problems=problems, show_missing=show_missing,
                      audiences=picker_audiences(ws, exclude=audience.pk if audience else None))
    slug = ws.slug
    target = result_entity(schema, definition)
    attributes = list(schema.attributes[target.pk].values()) if target is not None else []
    context = display.context()
    context.update({
        "definition_json": dump_definition(definition),
        "entities": sorted(schema.entities.values(), key=lambda e: e.label.lower()),
        "audience": audience,
        "form": form,
        "form_url": reverse("aud-edit", kwargs={"workspace_slug": slug, "pk": audience.pk}) if audience
        else reverse("aud-new", kwargs={"workspace_slug": slug}),
        "result_entity": target,
        "result_attributes": attributes,
        "default_attribute": default_attribute(attributes),
        "problem_count": len(display.problems),
        "can_edit": True,
        **extra,
    })
    return context


def _default_definition(request, schema: Schema) -> dict:
    wanted = request.GET.get("entity")
    if wanted in schema.entities:
        return {"entity": wanted, "rule": None}
    entities = sorted(schema.entities.values(), key=lambda e: (not e.is_profile, e.label.lower()))
    return {"entity": entities[0].key, "rule": None} if entities else {}


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
@workspace_view(read_role=MARKETER)
def audience_new(request, workspace_slug):
    """A new rule audience: GET the builder; POST a builder action, or save."""
    schema = Schema.load(request.workspace)
    if request.method == "POST":
        return _post(request, schema, audience=None)
    definition = _default_definition(request, schema)
    return render(request, PAGE, builder_context(request, schema, definition, audience=None,
                                                 form=AudienceSaveForm(), problems=[]))


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
@workspace_view(read_role=MARKETER)
def audience_edit(request, workspace_slug, pk):
    """A saved rule in the builder. Lists (uploads, snapshots) have no rule to edit."""
    audience = access_audience(request.user, request.workspace, pk)
    if audience.is_list:
        messages.info(request, f"“{audience.name}” is a fixed list of keys: it has no rule to edit. "
                               "Duplicate it or build a new rule that uses it.")
        return go(request, detail_url(audience))
    schema = Schema.load(request.workspace)
    if request.method == "POST":
        return _post(request, schema, audience=audience)
    form = AudienceSaveForm(initial={"name": audience.name, "description": audience.description})
    return render(request, PAGE, builder_context(request, schema, dict(audience.definition), audience=audience,
                                                 form=form))


def _post(request, schema: Schema, *, audience: Audience | None) -> HttpResponse:
    ws = request.workspace
    notice = None
    try:
        definition = load_definition(request.POST.get("definition"))
    except DefinitionError as exc:
        definition, notice = _default_definition(request, schema), f"{exc} The builder started over."
    else:
        definition = edit(schema, definition, request.POST,
                          audiences=picker_audiences(ws, exclude=audience.pk if audience else None))
    if request.POST.get("action") != "save" or notice:
        # Not a save (or nothing readable to save): the name fields are carried along.
        form = AudienceSaveForm(initial={"name": request.POST.get("name", ""),
                                         "description": request.POST.get("description", "")})
        context = builder_context(request, schema, definition, audience=audience, form=form, notice=notice)
        if not request.htmx:
            return render(request, PAGE, context)
        return _regions(request, context, ("builder", "preview-tools"))

    problems = None
    form = AudienceSaveForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            if audience is None:
                saved = services.audience_create(workspace=ws, actor=request.user, name=data["name"],
                                                 description=data["description"], definition=definition)
            else:
                saved = services.audience_update(workspace=ws, actor=request.user, audience=audience,
                                                 name=data["name"], description=data["description"],
                                                 definition=definition)
        except RuleError as exc:
            problems = exc.problems
            form.add_error(None, "The rule has problems: they are marked next to the conditions.")
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            _count_saved(saved)
            messages.success(request, f"“{saved.name}” was saved." if audience else f"“{saved.name}” was created.")
            return go(request, detail_url(saved))
        if audience is not None:
            audience.refresh_from_db()  # the service may have changed the instance before it refused
    context = builder_context(request, schema, definition, audience=audience, form=form, problems=problems,
                              show_missing=True)
    if not request.htmx:
        return render(request, PAGE, context)
    return _regions(request, context, ("builder", "preview-tools", "save-panel"), status=422)


def _count_saved(audience: Audience) -> None:
    """The builder has just counted this rule live: its page shows that figure, not "Not
    counted yet". Counted again here (a figure sent by the page is not to be trusted),
    bounded like the live count; a rule too slow for that stays uncounted."""
    try:
        result = selectors.count(definition=selectors.definition_of(audience), timeout_ms=LIVE_COUNT_TIMEOUT_MS)
    except (RuleError, DatabaseError):
        return
    services.audience_record_count(audience=audience, result=result)


def _regions(request, context: dict, regions: tuple[str, ...], *, status: int = 200) -> HttpResponse:
    """The builder (the request's target) and, out of band, the regions that follow it."""
    body = "".join(render_to_string(f"{PAGE}#{region}", {**context, "oob": i > 0}, request=request)
                   for i, region in enumerate(regions))
    response = HttpResponse(body, status=status)
    # After the swap, so the live count reads the new rule.
    response["HX-Trigger-After-Settle"] = "ruleChanged"
    return response

