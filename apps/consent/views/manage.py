"""The workspace's Consent section: topics, the suppression list, rule sets and their
frequency caps, quiet hours, the workspace policy, the consent import, and a profile's
consent and history. Roles as over the API (apps/consent/api.py): reading the
configuration: viewers; the suppression list, a profile's history, recording and importing
consents: marketers; adding a suppression: approvers; everything else: workspace admins.

Forms post normally and redirect, so the pages work without JavaScript; under htmx the
suppression list searches as one types and its add/remove forms swap the list region."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from apps.core.htmx import add_errors
from apps.core.integers import INT_MAX
from apps.core.net import client_ip
from apps.tenants.decorators import can_approve, can_edit, is_admin, workspace_view
from apps.tenants.roles import WorkspaceRole

from .. import configuration, imports, selectors, services
from ..models import CHANNELS, Period, Policy, Source, SuppressionKind, SuppressionReason

VIEWER, MARKETER, APPROVER, ADMIN = (WorkspaceRole.VIEWER, WorkspaceRole.MARKETER, WorkspaceRole.APPROVER,
                                     WorkspaceRole.ADMIN)
SUPPRESSIONS_SHOWN = 200  # a page of the list; the search narrows it


# --- forms ---

class TopicForm(forms.Form):
    key = forms.SlugField(max_length=50, help_text="Activities and imports name the topic by key; it cannot change.")
    name = forms.CharField(max_length=200)
    channel = forms.ChoiceField(choices=CHANNELS)
    policy = forms.ChoiceField(choices=Policy.choices, initial=Policy.OPT_IN)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class TopicEditForm(forms.Form):
    name = forms.CharField(max_length=200)
    policy = forms.ChoiceField(choices=Policy.choices)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class SuppressionForm(forms.Form):
    kind = forms.ChoiceField(choices=SuppressionKind.choices)
    value = forms.CharField(max_length=320, label="Address, domain or phone")
    reason = forms.ChoiceField(choices=[c for c in SuppressionReason.choices if c[0] != SuppressionReason.ERASED],
                               initial=SuppressionReason.MANUAL)
    note = forms.CharField(required=False, max_length=500)
    expires_at = forms.DateTimeField(required=False, label="Expires",
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))


class RuleSetForm(forms.Form):
    name = forms.CharField(max_length=200)


class CapForm(forms.Form):
    channel = forms.ChoiceField(choices=[("", "All channels"), *CHANNELS], required=False)
    limit = forms.IntegerField(min_value=1, max_value=INT_MAX)  # an `integer` column
    period = forms.ChoiceField(choices=Period.choices)


class PolicyForm(forms.Form):
    four_eyes = forms.BooleanField(required=False, label="Four eyes: whoever publishes must not be the last editor")
    soft_bounce_threshold = forms.IntegerField(min_value=configuration.SOFT_BOUNCE_RANGE[0],
                                               max_value=configuration.SOFT_BOUNCE_RANGE[1],
                                               help_text="Soft bounces before an address is suppressed (1-20).")
    unsubscribe_link_days = forms.IntegerField(min_value=configuration.UNSUBSCRIBE_DAYS_RANGE[0],
                                               max_value=configuration.UNSUBSCRIBE_DAYS_RANGE[1],
                                               help_text="How long unsubscribe and preference links stay valid.")


class ImportForm(forms.Form):
    file = forms.FileField(help_text="CSV with a header: profile_key, topic, granted (true/false, yes/no, 1/0), and "
                                     "optionally channel, at (ISO timestamp), source, proof.")
    mode = forms.ChoiceField(choices=[("reject", "Reject the file on any bad row"),
                                      ("skip", "Skip bad rows, up to the limit")], initial="reject")
    max_errors = forms.IntegerField(min_value=0, initial=imports.DEFAULT_MAX_ERRORS, label="Bad rows allowed")


class RecordForm(forms.Form):
    topic = forms.IntegerField(widget=forms.HiddenInput)
    granted = forms.TypedChoiceField(choices=[("1", "Granted"), ("0", "Withdrawn")], coerce=lambda v: v == "1")
    proof = forms.CharField(required=False, max_length=2000, help_text="How you know (a signed form, a call...).")


def _context(request, **extra):
    return {"can_admin": is_admin(request), "can_mark": can_edit(request), "can_approve": can_approve(request),
            **extra}


# --- topics ---

@workspace_view(read_role=VIEWER, write_role=ADMIN)
def topics(request, workspace_slug):
    form = TopicForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            topic = configuration.topic_create(workspace=request.workspace, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"Topic {topic.name} added.")
            return redirect("consent-topics", workspace_slug=workspace_slug)
    return render(request, "consent/manage_topics.html", _context(
        request, topics=selectors.topic_list(workspace=request.workspace), form=form),
        status=422 if form.errors else 200)


@workspace_view(read_role=VIEWER, write_role=ADMIN)
def topic_edit(request, workspace_slug, pk):
    topic = selectors.access_topic(request.user, request.workspace, pk)
    form = TopicEditForm(request.POST or None, initial={"name": topic.name, "policy": topic.policy,
                                                        "description": topic.description})
    if request.method == "POST" and form.is_valid():
        try:
            configuration.topic_update(workspace=request.workspace, actor=request.user, topic=topic,
                                       **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"Topic {topic.name} saved.")
            return redirect("consent-topics", workspace_slug=workspace_slug)
    return render(request, "consent/manage_topic_edit.html", _context(
        request, topic=topic, form=form, answers=topic.states.count()), status=422 if form.errors else 200)


@require_POST
@workspace_view(write_role=ADMIN)
def topic_delete(request, workspace_slug, pk):
    topic = selectors.access_topic(request.user, request.workspace, pk)
    try:
        configuration.topic_delete(workspace=request.workspace, actor=request.user, topic=topic)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("consent-topic-edit", workspace_slug=workspace_slug, pk=topic.pk)
    messages.success(request, f"Topic {topic.name} deleted.")
    return redirect("consent-topics", workspace_slug=workspace_slug)


# --- suppression ---

def _suppression_filters(params) -> dict[str, str]:
    kind = params.get("kind", "")
    reason = params.get("reason", "")
    return {"kind": kind if kind in SuppressionKind.values else "",
            "reason": reason if reason in SuppressionReason.values else "",
            "search": params.get("search", "").strip()[:200]}


def _suppression_page(request, form, status=200, partial=False):
    filters = _suppression_filters(request.GET)
    suppressions = selectors.suppression_list(workspace=request.workspace, **filters)
    context = _context(request, form=form, filters=filters, kinds=SuppressionKind.choices,
                       reasons=SuppressionReason.choices, total=suppressions.count(),
                       suppressions=suppressions[:SUPPRESSIONS_SHOWN], shown=SUPPRESSIONS_SHOWN)
    template = "consent/manage_suppressions.html" + ("#suppression-list" if partial else "")
    return render(request, template, context, status=status)


@vary_on_headers("HX-Request")
@workspace_view(read_role=MARKETER, write_role=APPROVER)
def suppressions(request, workspace_slug):
    if request.method != "POST":
        return _suppression_page(request, SuppressionForm(), partial=bool(request.htmx))
    form = SuppressionForm(request.POST)
    if form.is_valid():
        try:
            suppression = services.suppression_add(workspace=request.workspace, actor=request.user,
                                                   **form.cleaned_data)
        except ValidationError as exc:
            form.add_error("value", exc.messages)
        else:
            messages.success(request, f"{suppression.value} is suppressed.")
            return redirect("consent-suppressions", workspace_slug=workspace_slug)
    return _suppression_page(request, form, status=422)


@require_POST
@workspace_view(write_role=ADMIN)
def suppression_remove(request, workspace_slug, pk):
    suppression = selectors.access_suppression(request.user, request.workspace, pk)
    services.suppression_remove(workspace=request.workspace, suppression=suppression, actor=request.user)
    if request.htmx:
        response = _suppression_page(request, SuppressionForm(), partial=True)
        response["HX-Trigger"] = "suppressionChanged"
        return response
    messages.success(request, f"{suppression.value} is no longer suppressed.")
    return redirect("consent-suppressions", workspace_slug=workspace_slug)


# --- rule sets and caps ---

def _rules_page(request, form=None, cap_form=None, status=200):
    return render(request, "consent/manage_rules.html", _context(
        request, rule_sets=selectors.rule_set_list(workspace=request.workspace), form=form or RuleSetForm(),
        cap_form=cap_form or CapForm(), periods=Period.choices, channels=CHANNELS), status=status)


@workspace_view(read_role=VIEWER, write_role=ADMIN)
def rules(request, workspace_slug):
    if request.method != "POST":
        return _rules_page(request)
    form = RuleSetForm(request.POST)
    if form.is_valid():
        try:
            rule_set = configuration.rule_set_create(workspace=request.workspace, actor=request.user,
                                                     name=form.cleaned_data["name"])
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"Rule set {rule_set.name} added: add its caps below.")
            return redirect("consent-rules", workspace_slug=workspace_slug)
    return _rules_page(request, form=form, status=422)


@require_POST
@workspace_view(write_role=ADMIN)
def rule_rename(request, workspace_slug, pk):
    rule_set = selectors.access_rule_set(request.user, request.workspace, pk)
    form = RuleSetForm(request.POST)
    if form.is_valid():
        try:
            configuration.rule_set_update(workspace=request.workspace, actor=request.user, rule_set=rule_set,
                                          name=form.cleaned_data["name"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Rule set renamed {rule_set.name}.")
    else:
        messages.error(request, "A rule set needs a name.")
    return redirect("consent-rules", workspace_slug=workspace_slug)


@require_POST
@workspace_view(write_role=ADMIN)
def rule_delete(request, workspace_slug, pk):
    rule_set = selectors.access_rule_set(request.user, request.workspace, pk)
    configuration.rule_set_delete(workspace=request.workspace, actor=request.user, rule_set=rule_set)
    messages.success(request, f"Rule set {rule_set.name} deleted.")
    return redirect("consent-rules", workspace_slug=workspace_slug)


@require_POST
@workspace_view(write_role=ADMIN)
def cap_add(request, workspace_slug, pk):
    rule_set = selectors.access_rule_set(request.user, request.workspace, pk)
    form = CapForm(request.POST)
    if form.is_valid():
        configuration.cap_add(workspace=request.workspace, actor=request.user, rule_set=rule_set,
                              **form.cleaned_data)
        messages.success(request, f"Cap added to {rule_set.name}.")
        return redirect("consent-rules", workspace_slug=workspace_slug)
    return _rules_page(request, cap_form=form, status=422)


@require_POST
@workspace_view(write_role=ADMIN)
def cap_remove(request, workspace_slug, pk):
    cap = selectors.access_cap(request.user, request.workspace, pk)
    configuration.cap_remove(workspace=request.workspace, actor=request.user, cap=cap)
    messages.success(request, f"Cap removed from {cap.rule_set.name}.")
    return redirect("consent-rules", workspace_slug=workspace_slug)


# --- quiet hours ---

@workspace_view(read_role=VIEWER, write_role=ADMIN)
def quiet_hours(request, workspace_slug):
    current = selectors.quiet_hours(workspace=request.workspace)
    errors: dict[str, str] = {}
    if request.method == "POST":
        hours = {}
        field = forms.TimeField()
        for channel, _label in CHANNELS:
            if not request.POST.get(f"{channel}-enabled"):
                hours[channel] = None
                continue
            try:
                window = (field.clean(request.POST.get(f"{channel}-from")),
                          field.clean(request.POST.get(f"{channel}-until")))
            except ValidationError:
                errors[channel] = "Give both times, as HH:MM."
                continue
            hours[channel] = window
        if not errors:
            try:
                configuration.quiet_hours_set(workspace=request.workspace, actor=request.user, hours=hours)
            except ValidationError as exc:
                errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
            else:
                messages.success(request, "Quiet hours saved.")
                return redirect("consent-quiet-hours", workspace_slug=workspace_slug)
    rows = []
    for channel, label in CHANNELS:
        window = current[channel]
        row = {"channel": channel, "label": label, "error": errors.get(channel, ""), "enabled": window is not None,
               "from": window.allowed_from.strftime("%H:%M") if window else "",
               "until": window.allowed_until.strftime("%H:%M") if window else ""}
        if errors:  # show what was typed, not what is stored
            row.update(enabled=bool(request.POST.get(f"{channel}-enabled")),
                       **{"from": request.POST.get(f"{channel}-from", ""),
                          "until": request.POST.get(f"{channel}-until", "")})
        rows.append(row)
    return render(request, "consent/manage_quiet_hours.html", _context(request, rows=rows),
                  status=422 if errors else 200)


# --- import ---

@workspace_view(read_role=MARKETER, write_role=MARKETER)
def consent_import(request, workspace_slug):
    form = ImportForm(request.POST or None, request.FILES or None)
    report = problems = None
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = imports.consent_import(
                workspace=request.workspace, actor=request.user, records=imports.csv_records(upload.read()),
                mode=form.cleaned_data["mode"], max_errors=form.cleaned_data["max_errors"],
                reference=f"import {upload.name}"[:200], ip_address=client_ip(request))
        except imports.ImportError_ as exc:
            problems = exc.problems
        else:
            report = result.as_dict()
    status = 422 if form.errors or problems or (report and report["status"] == "rejected") else 200
    rows = problems or (report["errors"] if report else [])
    more = report["error_count"] - len(rows) if report else 0
    return render(request, "consent/manage_import.html", _context(request, form=form, report=report, rows=rows,
                                                                  more=more), status=status)


# --- a profile ---

@workspace_view(read_role=VIEWER, write_role=MARKETER)
def profile(request, workspace_slug):
    """Look a profile up by key: its answer per topic (viewers), its history (marketers),
    and a form to record an answer given outside the platform (marketers, source admin)."""
    source = request.POST if request.method == "POST" else request.GET
    key = (source.get("key") or "").strip()[:imports.PROFILE_KEY_MAX]
    form = RecordForm(request.POST or None)
    if request.method == "POST":
        if not key:
            messages.error(request, "Which profile? Give its key.")
            return redirect("consent-profile", workspace_slug=workspace_slug)
        if form.is_valid():
            topic = selectors.access_topic(request.user, request.workspace, form.cleaned_data["topic"])
            services.consent_record(workspace=request.workspace, profile_key=key, topic=topic,
                                    granted=form.cleaned_data["granted"], source=Source.ADMIN, actor=request.user,
                                    ip_address=client_ip(request), proof=form.cleaned_data["proof"])
            messages.success(request, f"{topic.name}: {'granted' if form.cleaned_data['granted'] else 'withdrawn'} "
                                      f"for {key}.")
        else:
            messages.error(request, "Choose granted or withdrawn.")
        return redirect(reverse("consent-profile", kwargs={"workspace_slug": workspace_slug}) + "?" + urlencode({"key": key}))
    known = bool(key) and selectors.profile_known(workspace=request.workspace, profile_key=key)
    can_mark = can_edit(request)
    context = _context(request, key=key, known=known,
                       answers=selectors.profile_consents(workspace=request.workspace, profile_key=key) if known
                       else [],
                       history=list(selectors.profile_history(workspace=request.workspace, profile_key=key)[:200])
                       if known and can_mark else [])
    return render(request, "consent/manage_profile.html", context)
