"""One entity's editor: its attributes (edited inline, row by row), its links to and from
other entities, its settings, the channel addresses when it is the profile dimension, and
deleting it. Dropping data (an attribute, the entity) needs its key typed as confirmation."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap, retarget

from apps.core.htmx import add_errors, go, htmx_target, render_partial, render_region
from apps.tenants.decorators import can_edit, workspace_view
from apps.tenants.roles import WorkspaceRole

from .. import services
from ..forms import (
    AddressMappingForm,
    AttributeEditForm,
    AttributeForm,
    ConfirmForm,
    EntitySettingsForm,
    RelationshipForm,
    split_values,
)
from ..models import AttributeType
from ..selectors import (
    access_attribute,
    access_entity,
    access_relationship,
    address_mapping,
    entity_list,
    entity_row_counts,
    relationship_list,
)
from .model import model_context

ENTITY_REGIONS = ("attributes-panel", "links-panel", "addresses-panel", "entity-settings", "entity-delete")
PAGE = "datamodel/entity.html"


def _edit_form(attribute, data=None) -> AttributeEditForm:
    form = AttributeEditForm(data, auto_id=f"edit-{attribute.key}-%s", initial={
        "label": attribute.label, "type": attribute.type, "required": attribute.required,
        "enum_values": ", ".join(attribute.enum_values)})
    # What the services refuse anyway is not offered: a key's type and requiredness, a
    # link column's type (its target's key decides it).
    if attribute.is_primary_key:
        form.fields["type"].disabled = form.fields["required"].disabled = True
    elif hasattr(attribute, "relationship"):
        form.fields["type"].disabled = True
    return form


def _drop_form(attribute, data=None) -> ConfirmForm:
    return ConfirmForm(data, auto_id=f"drop-{attribute.key}-%s")


def _entity_context(request, entity, **extra) -> dict:
    ws = request.workspace
    entities = list(entity_list(workspace=ws))
    entity = next(e for e in entities if e.pk == entity.pk)  # the same row, its attributes prefetched
    rels = list(relationship_list(workspace=ws).filter(source=entity) | relationship_list(workspace=ws).filter(
        target=entity))
    outgoing = [r for r in rels if r.source_id == entity.pk]
    incoming = [r for r in rels if r.target_id == entity.pk and r.source_id != entity.pk] + [
        r for r in outgoing if r.target_id == entity.pk]
    link_of = {r.attribute_id: r for r in outgoing}
    attributes = list(entity.attributes.all())
    for attribute in attributes:
        attribute.link = link_of.get(attribute.pk)  # spares a query per row
    linkable = [a for a in attributes if not a.is_primary_key and a.pk not in link_of]
    profile_mapping: dict[str, str] = {}
    if entity.is_profile:
        _, profile_mapping = address_mapping(workspace=ws)
    rows = entity_row_counts(workspace=ws, entities=[entity]).get(entity.key)
    context = {
        "entity": entity,
        "attributes": attributes,
        "link_of": link_of,
        "outgoing": outgoing,
        "incoming": incoming,
        "rows": rows,
        "can_edit": can_edit(request),
        "add_form": AttributeForm(prefix="new"),
        "link_form": _link_form(entity, entities, linkable),
        "settings_form": EntitySettingsForm(initial={"label": entity.label, "description": entity.description,
                                                     "display_attribute": entity.display_attribute}, entity=entity),
        "delete_form": ConfirmForm(auto_id="delete-%s"),
        "address_form": AddressMappingForm(profile=entity, current=profile_mapping) if entity.is_profile else None,
        "editing": None, "edit_form": None, "dropping": None, "drop_form": None,
        "section": "model",
    }
    context.update(extra)
    return context


def _link_form(entity, entities, linkable, data=None) -> RelationshipForm:
    form = RelationshipForm(data, entities=entities)
    form.fields["column"].choices = [("", "Choose a column")] + [
        (a.key, f"{a.key} ({a.get_type_display().lower()})") for a in linkable]
    return form


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
@workspace_view()
def entity(request, workspace_slug, entity_key):
    """The entity's editor; POST saves its settings (label, description, profile)."""
    entity = access_entity(request.user, request.workspace, entity_key)
    if request.method == "GET":
        return render_region(request, PAGE, _entity_context(request, entity), ENTITY_REGIONS)
    form = EntitySettingsForm(request.POST, entity=entity)
    if form.is_valid():
        make_profile = request.POST.get("is_profile") in ("on", "true", "1")
        was_profile = entity.is_profile
        try:
            services.entity_update(workspace=request.workspace, actor=request.user, entity=entity,
                                   label=form.cleaned_data["label"], description=form.cleaned_data["description"],
                                   is_profile=make_profile,
                                   display_attribute=form.cleaned_data.get("display_attribute") or "")
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            text = f"Settings of {entity.key} saved."
            if make_profile and not was_profile:
                text = f"{entity.label} is now the profile dimension: map its channel addresses below."
            messages.success(request, text)
            if not request.htmx or make_profile != was_profile:
                # The page's shape changes with the profile (the addresses card): reload it.
                url = reverse("data-entity", kwargs={"workspace_slug": workspace_slug, "entity_key": entity.key})
                return go(request, url)  # htmx reloads the page, the flash message kept for it
            return render_region(request, PAGE, _entity_context(request, entity, saved=True), ENTITY_REGIONS,
                                 trigger="entityChanged")
    return render_region(request, PAGE, _entity_context(request, entity, settings_form=form), ENTITY_REGIONS,
                         status=422)


@require_POST
@workspace_view()
def entity_delete(request, workspace_slug, entity_key):
    """Drop the entity, its table and its links, once its key is typed."""
    entity = access_entity(request.user, request.workspace, entity_key)
    form = ConfirmForm(request.POST, auto_id="delete-%s")
    form.is_valid()
    try:
        services.entity_delete(workspace=request.workspace, actor=request.user, entity=entity,
                               confirm=form.cleaned_data.get("confirm", "").strip())
    except ValidationError as exc:
        add_errors(form, exc)
        return render_region(request, PAGE, _entity_context(request, entity, delete_form=form), ENTITY_REGIONS,
                             status=422)
    messages.success(request, f"The entity {entity_key}, its table and its data were deleted.")
    return go(request, reverse("data-model", kwargs={"workspace_slug": workspace_slug}))


def _panel_or_page(request, workspace_slug, entity, *, trigger: str):
    """After a successful change: the attributes panel for htmx, the page otherwise."""
    if request.htmx:
        response = render_partial(request, PAGE, "attributes-panel", _entity_context(request, entity), trigger=trigger)
        # The request may have aimed at one row (its edit or drop form): the whole panel
        # replaces the panel.
        return reswap(retarget(response, "#attributes-panel"), "outerHTML")
    return redirect("data-entity", workspace_slug=workspace_slug, entity_key=entity.key)


@require_POST
@workspace_view()
def attribute_add(request, workspace_slug, entity_key):
    """A new column (an online ALTER TABLE)."""
    entity = access_entity(request.user, request.workspace, entity_key)
    form = AttributeForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            attribute = services.attribute_add(workspace=request.workspace, actor=request.user, entity=entity,
                                               spec=form.spec())
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"{entity.key}.{attribute.key} was added.")
            return _panel_or_page(request, workspace_slug, entity, trigger="attributesChanged")
    context = _entity_context(request, entity, add_form=form)
    if request.htmx:
        return render(request, f"{PAGE}#attributes-panel", context, status=422)
    return render(request, PAGE, context)


def _row_or_page(request, entity, attribute, context, *, status: int = 200):
    """One attribute row (htmx, aimed at the row) or the page with that row open."""
    if htmx_target(request) == f"attr-{attribute.key}":
        return render(request, f"{PAGE}#attr-row", {**context, "attribute": attribute}, status=status)
    return render(request, PAGE, context)


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
@workspace_view(read_role=WorkspaceRole.MARKETER)
def attribute(request, workspace_slug, entity_key, attribute_key):
    """GET: the attribute's row as a form. POST: save label, type, required, enum values.
    A type change goes through only when every stored value converts."""
    entity = access_entity(request.user, request.workspace, entity_key)
    attribute = access_attribute(request.user, request.workspace, entity, attribute_key)
    form = _edit_form(attribute, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        new_type = data["type"]
        try:
            services.attribute_update(
                workspace=request.workspace, actor=request.user, attribute=attribute, label=data["label"],
                type=None if attribute.is_primary_key else new_type,
                required=None if attribute.is_primary_key else data["required"],
                enum_values=split_values(data["enum_values"]) if new_type == AttributeType.ENUM else None)
        except ValidationError as exc:
            attribute.refresh_from_db()  # the service may have changed the instance before it refused
            add_errors(form, exc)
        else:
            messages.success(request, f"{entity.key}.{attribute.key} was saved.")
            return _panel_or_page(request, workspace_slug, entity, trigger="attributesChanged")
    context = _entity_context(request, entity, editing=attribute.key, edit_form=form)
    attribute = next(a for a in context["attributes"] if a.pk == attribute.pk)
    return _row_or_page(request, entity, attribute, context, status=422 if form.is_bound else 200)


@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
@workspace_view(read_role=WorkspaceRole.MARKETER)
def attribute_delete(request, workspace_slug, entity_key, attribute_key):
    """GET: ask for the attribute's key. POST: drop the column and its values."""
    entity = access_entity(request.user, request.workspace, entity_key)
    attribute = access_attribute(request.user, request.workspace, entity, attribute_key)
    form = _drop_form(attribute, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.attribute_delete(workspace=request.workspace, actor=request.user, attribute=attribute,
                                      confirm=form.cleaned_data["confirm"].strip())
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"{entity.key}.{attribute_key} and its values were deleted.")
            return _panel_or_page(request, workspace_slug, entity, trigger="attributesChanged")
    context = _entity_context(request, entity, dropping=attribute.key, drop_form=form)
    attribute = next(a for a in context["attributes"] if a.pk == attribute.pk)
    return _row_or_page(request, entity, attribute, context, status=422 if form.is_bound else 200)


def _links_response(request, workspace_slug, entity, context=None, *, status=200, trigger=None):
    if request.htmx:
        return render_partial(request, PAGE, "links-panel", context or _entity_context(request, entity),
                              status=status, trigger=trigger)
    if context is not None:
        return render(request, PAGE, context)
    return redirect(reverse("data-entity", kwargs={"workspace_slug": workspace_slug, "entity_key": entity.key})
                    + "#links-panel")


@require_POST
@workspace_view()
def relationship_add(request, workspace_slug, entity_key):
    """Make one of this entity's columns point to another entity's key."""
    ws = request.workspace
    source = access_entity(request.user, ws, entity_key)
    entities = list(entity_list(workspace=ws))
    taken = set(relationship_list(workspace=ws).filter(source=source).values_list("attribute_id", flat=True))
    linkable = [a for a in source.attributes.all() if not a.is_primary_key and a.pk not in taken]
    form = _link_form(source, entities, linkable, request.POST)
    if form.is_valid():
        data = form.cleaned_data
        target = next(e for e in entities if e.key == data["target"])
        try:
            rel = services.relationship_create(
                workspace=ws, actor=request.user, source=source, attribute_key=data["column"], target=target,
                key=data["key"].strip(), reverse_key=data["reverse_key"].strip(), kind=data["kind"])
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"{source.key}.{rel.key} now points to {target.key} "
                                      f"({target.key}.{rel.reverse_key} lists them).")
            return _links_response(request, workspace_slug, source, trigger="linksChanged")
    return _links_response(request, workspace_slug, source, _entity_context(request, source, link_form=form),
                           status=422)


@require_POST
@workspace_view()
def relationship_delete(request, workspace_slug, pk):
    """Remove a link (the column and its values stay)."""
    rel = access_relationship(request.user, request.workspace, pk)
    services.relationship_delete(workspace=request.workspace, actor=request.user, relationship=rel)
    messages.success(request, f"The link {rel.source.key}.{rel.key} → {rel.target.key} was removed; "
                              f"the column {rel.source.key}.{rel.attribute.key} keeps its values.")
    # The form says which page it was sent from (the source or the target entity).
    back = request.POST.get("from")
    if back in (rel.source.key, rel.target.key):
        entity = rel.source if back == rel.source.key else rel.target
        return _links_response(request, workspace_slug, entity, trigger="linksChanged")
    if request.htmx:
        return render_partial(request, "datamodel/model.html", "relationships-panel", model_context(request),
                              trigger="linksChanged")
    return redirect(reverse("data-model", kwargs={"workspace_slug": workspace_slug}) + "#relationships-panel")


@require_POST
@workspace_view()
def addresses(request, workspace_slug, entity_key):
    """Which attributes of the profile dimension hold email, phone and postal address."""
    ws = request.workspace
    entity = access_entity(request.user, ws, entity_key)
    if not entity.is_profile:
        raise Http404("Not the profile dimension.")
    _, current = address_mapping(workspace=ws)
    form = AddressMappingForm(request.POST, profile=entity, current=current)
    if form.is_valid():
        try:
            services.address_mapping_set(workspace=ws, actor=request.user, mapping=form.mapping())
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, "The channel addresses were saved.")
            if request.htmx:
                _, current = address_mapping(workspace=ws)
                context = _entity_context(request, entity,
                                          address_form=AddressMappingForm(profile=entity, current=current))
                return render_partial(request, PAGE, "addresses-panel", context, trigger="addressesChanged")
            return redirect(reverse("data-entity", kwargs={"workspace_slug": workspace_slug, "entity_key": entity.key})
                            + "#addresses-panel")
    context = _entity_context(request, entity, address_form=form)
    if request.htmx:
        return render(request, f"{PAGE}#addresses-panel", context, status=422)
    return render(request, PAGE, context)
