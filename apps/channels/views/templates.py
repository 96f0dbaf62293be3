"""The template screens: the workspace's templates, and the editor. The editor checks the
content as it is typed (the check region), previews it for a real record picked by key or
at random (the HTML in a sandboxed iframe), and sends proofs to test addresses. Check,
preview and proof work on the unsaved form, so a template can be tried before it is saved."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from apps.core.csp import allow_email_preview
from apps.core.htmx import add_errors
from apps.datamodel.models import Attribute, Entity
from apps.tenants.decorators import can_edit, workspace_view
from apps.tenants.roles import WorkspaceRole

from .. import blocks, configuration, content_forms, selectors, services, smstext
from ..forms import PreviewForm, ProofForm, TemplateForm, posted_content
from ..models import ChannelKind
from ..proof_limits import ProofRateLimited

MARKETER = WorkspaceRole.MARKETER


def _entities(workspace):
    return Entity.objects.filter(workspace=workspace).order_by("key")


def _template_form(request, data=None, initial=None) -> TemplateForm:
    return TemplateForm(data, initial=initial, entities=_entities(request.workspace))


def _posted(request, before: dict | None = None) -> tuple[TemplateForm, str, dict, str]:
    """The editor's form as posted: (form, channel, content, entity_key); content is what
    the fields hold even when the form has errors elsewhere (a name not given yet)."""
    form = _template_form(request, request.POST)
    form.is_valid()
    data = getattr(form, "cleaned_data", {})
    channel = data.get("channel") or request.POST.get("channel") or ChannelKind.EMAIL
    if channel not in ChannelKind.values:
        channel = ChannelKind.EMAIL
    return form, channel, posted_content(channel, request.POST, before), data.get("entity_key") or ""


@require_GET
@workspace_view()
def template_list(request, workspace_slug):
    channel = request.GET.get("channel") or ""
    if channel not in ChannelKind.values:
        channel = ""
    return render(request, "channels/templates.html", {
        "templates": selectors.template_list(workspace=request.workspace, channel=channel or None),
        "channel": channel, "channels": ChannelKind.choices,
        "can_edit": can_edit(request)})


def _editor(request, template, form, status=200, problems=None):
    text = form.data.get("sms_text", "") if form.is_bound else form.initial.get("sms_text", "")
    if form.is_bound:
        push = posted_content(ChannelKind.PUSH, form.data)
    else:
        push = dict(template.content or {}) if template is not None and template.channel == ChannelKind.PUSH else {}
    fields = {k: str(v) for k, v in push.items() if isinstance(v, str)}
    return allow_email_preview(render(request, "channels/template_edit.html", {
        "blocks_starter": json.dumps(blocks.starter()),
        "personalization_fields": _personalization_fields(request.workspace),
        "sms_initial": sms_estimate(request.workspace, text or ""),
        "notes": content_forms.push_cards(fields, push),
        "template": template, "form": form, "problems": problems or [], "can_edit": can_edit(request),
        "preview_form": PreviewForm(), "proof_form": ProofForm(),
        "used_by": selectors.template_users(workspace=request.workspace, template=template) if template else [],
    }, status=status))


def _personalization_fields(workspace) -> list[tuple[str, list[tuple[str, str]]]]:
    """The visual editor's field menu, in groups: the profile's attributes, then each
    other entity's as `target` (valid when the template is written for that entity)."""
    rows = Attribute.objects.filter(workspace=workspace).order_by("-entity__is_profile", "entity__key", "key") \
        .values_list("entity__is_profile", "entity__key", "key")
    groups: dict[str, list[tuple[str, str]]] = {}
    for is_profile, entity, key in rows:
        if is_profile:
            groups.setdefault("Profile", []).append(("{{ profile." + key + " }}", key))
        else:
            groups.setdefault(f"Written for {entity}", []).append(("{{ target." + key + " }}", key))
    return list(groups.items())


def _save(request, template=None):
    form, channel, content, entity_key = _posted(request, template.content if template is not None else None)
    if template is not None and channel == ChannelKind.DIRECT_MAIL:
        # The window position and margins have no fields here (the API sets them): keep them.
        content = {**{k: v for k, v in (template.content or {}).items() if k in configuration.MILLIMETRE_FIELDS},
                   **content}
    problems = []
    if form.is_valid():
        try:
            saved = configuration.template_write(workspace=request.workspace, actor=request.user,
                                                 name=form.cleaned_data["name"], channel=channel, content=content,
                                                 entity_key=entity_key, template=template)
        except ValidationError as exc:
            problems = getattr(exc, "problems", None) or []
            if not problems:
                add_errors(form, exc)
        else:
            messages.success(request, f"{saved.name} saved.")
            return redirect("tpl-edit", workspace_slug=request.workspace.slug, pk=saved.pk)
    if problems:
        form.add_error(None, "Not saved: the content has problems (listed under the fields).")
    return _editor(request, template, form, status=422, problems=problems)


@workspace_view(read_role=MARKETER, write_role=MARKETER)
def template_new(request, workspace_slug):
    if request.method == "POST":
        return _save(request)
    initial = {"channel": request.GET.get("channel") or ChannelKind.EMAIL, "page_size": "A4",
               # a new email starts in the visual editor, from a short starter document
               "editor": "visual", "blocks": json.dumps(blocks.starter())}
    return _editor(request, None, _template_form(request, initial=initial))


@workspace_view(write_role=MARKETER)
def template_edit(request, workspace_slug, pk):
    template = selectors.access_template(request.user, request.workspace, pk)
    if request.method == "POST":
        return _save(request, template)
    return _editor(request, template, _template_form(request, initial=TemplateForm.initial_for(template)))


@require_POST
@workspace_view(write_role=MARKETER)
def template_delete(request, workspace_slug, pk):
    template = selectors.access_template(request.user, request.workspace, pk)
    try:
        configuration.template_delete(workspace=request.workspace, actor=request.user, template=template)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("tpl-edit", workspace_slug=workspace_slug, pk=template.pk)
    messages.success(request, f"{template.name} deleted.")
    return redirect("tpl-list", workspace_slug=workspace_slug)


@vary_on_headers("HX-Request")
@require_POST
@workspace_view(write_role=MARKETER)
def template_check(request, workspace_slug):
    """The check region: every problem of the unsaved content, with its field and line."""
    _form, channel, content, entity_key = _posted(request)
    problems = selectors.template_problems(workspace=request.workspace, channel=channel, content=content,
                                           entity_key=entity_key)
    return render(request, "channels/template_edit.html#template-check", {"problems": problems, "checked": True})


@require_POST
@workspace_view(read_role=MARKETER, write_role=MARKETER)
def template_blocks_html(request, workspace_slug):
    """The visual editor's document compiled to HTML, for the switch to the HTML editor:
    200 {"html"}, or 400 {"problems": [{field, line, message}]}. Reads only what is posted."""
    try:
        html = blocks.compile_blocks(request.POST.get("blocks", ""))
    except blocks.BlocksError as exc:
        return JsonResponse({"problems": [p.as_dict() for p in exc.problems]}, status=400)
    return JsonResponse({"html": html})


@vary_on_headers("HX-Request")
@require_POST
@workspace_view(write_role=MARKETER)
def template_preview(request, workspace_slug):
    """The preview region: the unsaved content rendered for one record (by key or random)."""
    _form, channel, content, entity_key = _posted(request)
    key = (request.POST.get("preview-key") or "").strip()
    context = {"channel": channel, "asked_key": key}
    try:
        context["preview"] = selectors.preview(workspace=request.workspace, channel=channel, content=content,
                                               entity_key=entity_key, key=key or None)
    except selectors.PreviewError as exc:
        context["preview_error"] = exc.message
    else:
        fields = context["preview"].fields
        if channel == ChannelKind.SMS:
            context.update(sms_estimate(request.workspace, fields.get("text") or ""), personalized=False)
        elif channel == ChannelKind.PUSH:
            context["notes"] = content_forms.push_cards(fields, context["preview"].content)
    # Without htmx this fragment is the whole page: it shows the preview frame too.
    return allow_email_preview(render(request, "channels/template_edit.html#template-preview", context,
                                      status=200 if "preview" in context or request.htmx else 422))


@vary_on_headers("HX-Request")
@require_POST
@workspace_view(write_role=MARKETER)
def template_proof(request, workspace_slug):
    """Send the unsaved content to test addresses, marked [PROOF]."""
    _form, channel, content, entity_key = _posted(request)
    addresses = request.POST.get("proof-addresses", "")
    if request.POST.get("proof-self") and channel == ChannelKind.EMAIL:
        # "Send a test to me": the signed-in person's own address, nothing typed
        addresses = request.user.email or ""
    proof_form = ProofForm({"addresses": addresses,
                            "key": request.POST.get("proof-key", "")})
    context = {"proof_form": proof_form}
    status = None
    if proof_form.is_valid():
        try:
            delivery = services.proof_send(workspace=request.workspace, actor=request.user, channel=channel,
                                           content=content, addresses=proof_form.address_list(),
                                           entity_key=entity_key, key=proof_form.cleaned_data["key"] or None)
        except ProofRateLimited as exc:
            context["proof_error"], status, retry_after = exc.message, 429, exc.retry_after
        except ValidationError as exc:
            context["proof_error"] = " ".join(exc.messages)
        else:
            context["proof_delivery"] = delivery
            context["proof_url"] = _delivery_url(request, delivery)
    ok = "proof_delivery" in context
    response = render(request, "channels/template_edit.html#template-proof", context,
                      status=status or (202 if ok else (200 if request.htmx else 422)))
    if status == 429:
        response["Retry-After"] = str(retry_after)
    return response


def _delivery_url(request, delivery) -> str:
    try:
        return reverse("chan-delivery", kwargs={"workspace_slug": request.workspace.slug, "pk": delivery.pk})
    except Exception:  # noqa: BLE001 - the delivery pages may not be installed
        return ""


def _live_content(request, channel: str) -> dict:
    """The SMS / push content posted by the editor or by a canvas side panel (cfg- fields)."""
    prefix = "cfg-" if "cfg-node_id" in request.POST else ""
    return posted_content(channel, request.POST, prefix=prefix)


def sms_estimate(workspace, text: str) -> dict:
    """The live counter's figures: encoding, the characters forcing UCS-2, segments against
    the workspace's limit, and the cost at its price per segment."""
    config = selectors.channel_config(workspace=workspace, channel=ChannelKind.SMS)
    options = (config.options or {}) if config else {}
    info = smstext.analyse(text)
    limit = options.get("max_segments") or smstext.MAX_SEGMENTS_CEILING
    price = options.get("price_per_segment")
    forcing = [(ch, f"U+{ord(ch):04X}") for ch in info.non_gsm]
    return {"sms": info, "forcing": forcing, "max_segments": limit, "over_limit": smstext.limit_problem(info, limit),
            "price": smstext.amount_text(price), "cost": smstext.amount_text(smstext.cost(info.segments, price)),
            "personalized": "{{" in text or "{%" in text}


@vary_on_headers("HX-Request")
@require_POST
@workspace_view(write_role=MARKETER)
def template_sms_count(request, workspace_slug):
    """The live SMS counter of the editor and of the SMS panel on the canvas."""
    text = _live_content(request, ChannelKind.SMS).get("text") or ""
    return render(request, "channels/_sms_count.html", sms_estimate(request.workspace, text))


@vary_on_headers("HX-Request")
@require_POST
@workspace_view(write_role=MARKETER)
def template_push_preview(request, workspace_slug):
    """The live push preview (the fields as written, per platform) of the editor and the panel."""
    content = _live_content(request, ChannelKind.PUSH)
    fields = {k: str(v) for k, v in content.items() if isinstance(v, str)}
    return render(request, "channels/_push_preview.html", {"notes": content_forms.push_cards(fields, content)})
