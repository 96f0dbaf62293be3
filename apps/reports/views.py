"""Report pages: a delivery's, and a campaign's across its runs (or one run's), with a
chart of sends, opens, clicks and bounces over time, clicks per link, mailbox providers,
exclusions and failures by reason; every table exports as CSV."""

from __future__ import annotations

import csv
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.audiences.models import Audience
from apps.campaigns import selectors as campaign_selectors
from apps.campaigns.models import Campaign
from apps.channels import selectors as channel_selectors
from apps.channels.models import ContentTemplate
from apps.datamodel.ingestion import formula_safe
from apps.tenants import selectors as tenant_selectors
from apps.tenants.access import access_object, access_organization, workspace_role
from apps.tenants.decorators import workspace_view
from apps.tenants.forms import AgencyInviteForm
from apps.tenants.roles import WorkspaceRole, at_least

from . import agency, copying, pdf, selectors, services
from .context import TABLES, report_context
from .forms import SubscriptionForm
from .models import ReportSubscription


def csv_rows(table: str, context: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The header and rows of one of the page's tables."""
    if table == "figures":
        return ["metric", "count", "rate"], [[r["label"], r["value"], r["rate"]] for r in context["figure_rows"]]
    if table == "series":
        metrics = context["series"]["metrics"]
        return ["at", *metrics], [[p["at"].isoformat(), *(p[m] for m in metrics)] for p in context["series"]["points"]]
    if table == "links":
        return ["url", "clicks", "unique clicks"], [[r["url"], r["total"], r["unique"]] for r in context["links"]]
    if table == "domains":
        keys = ["domain", "sent", "delivered", "bounced", "complained", "opened", "clicked", "open_rate", "bounce_rate"]
        return keys, [[r[k] for k in keys] for r in context["domains"]]
    if table in ("excluded", "failed"):
        return ["reason", "code", "messages"], [[r["label"], r["code"], r["n"]] for r in context[table]]
    keys = ["targeted", "excluded", "sent", "failed", "delivered", "bounced_hard", "complained", "opened_unique",
            "clicked_unique", "unsubscribed"]
    return (["delivery", "name", "split branch", "channel", "created", *keys],
            [[r["delivery"].pk, r["delivery"].name, r.get("branch", ""), r["delivery"].channel,
              r["delivery"].created_at.isoformat(), *(r[k] for k in keys)] for r in context["delivery_rows"]])


def csv_response(table: str, context: dict[str, Any], stem: str) -> HttpResponse:
    if table not in TABLES:
        raise Http404("No such table.")
    header, rows = csv_rows(table, context)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{stem}-{table}.csv"'
    writer = csv.writer(response)
    writer.writerow(header)
    for row in rows:
        writer.writerow([formula_safe(v) if isinstance(v, str) else ("" if v is None else v) for v in row])
    return response


def _campaign_scope(request, pk) -> tuple[Any, Any, list]:
    campaign = campaign_selectors.access_campaign(request.user, request.workspace, pk)
    run = None
    if request.GET.get("run"):
        run = campaign_selectors.access_run(request.user, request.workspace, request.GET["run"])
        if run.campaign_id != campaign.pk:
            raise Http404("Not found.")
    return campaign, run, selectors.deliveries_of(workspace=request.workspace, campaign=campaign, run=run)


@require_GET
@workspace_view()
def campaign_report(request, workspace_slug, pk):
    campaign, run, deliveries = _campaign_scope(request, pk)
    runs = campaign_selectors.run_list(campaign=campaign).filter(mode="live")
    context = {"campaign": campaign, "run": run, "runs": runs[:50], "scope": "campaign",
               "subscriptions": _subscriptions(request, campaign), "subscription_form": SubscriptionForm(),
               **report_context(deliveries, per_delivery=True)}
    return render(request, "reports/report.html", context)


@require_GET
@workspace_view()
def campaign_report_csv(request, workspace_slug, pk, table):
    campaign, run, deliveries = _campaign_scope(request, pk)
    stem = f"campaign-{campaign.pk}" + (f"-run-{run.pk}" if run else "")
    return csv_response(table, report_context(deliveries, per_delivery=True), stem)


@require_GET
@workspace_view()
def delivery_report(request, workspace_slug, pk):
    delivery = channel_selectors.access_delivery(request.user, request.workspace, pk)
    context = {"delivery": delivery, "scope": "delivery", **report_context([delivery], per_delivery=False)}
    return render(request, "reports/report.html", context)


@require_GET
@workspace_view()
def delivery_report_csv(request, workspace_slug, pk, table):
    delivery = channel_selectors.access_delivery(request.user, request.workspace, pk)
    return csv_response(table, report_context([delivery], per_delivery=False), f"delivery-{delivery.pk}")


@login_required
@require_GET
def agency_home(request, org_slug):
    """Every client workspace of the agency this member sees, with its last 30 days;
    searchable (?q=) and sortable (?sort=column, ?sort=-column for descending)."""
    organization, role = access_organization(request.user, org_slug)
    query = (request.GET.get("q") or "").strip()[:100]
    show_archived = request.GET.get("archived") == "1"
    workspaces = tenant_selectors.organization_workspaces(organization=organization, user=request.user, role=role,
                                                          query=query, archived=None if show_archived else False)
    sort = request.GET.get("sort") or "name"
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in agency.COLUMNS:
        key, descending = "name", False
    rows = agency.sort_rows(agency.agency_rows(workspaces), key, descending)
    manage = role in ("owner", "admin")
    return render(request, "reports/agency_home.html", {
        "organization": organization, "role": role, "rows": rows, "query": query, "sort_key": key,
        "descending": descending, "columns": agency.COLUMNS, "manage": manage, "show_archived": show_archived,
        "days": agency.DAYS, "sent_total": sum(r["sent"] for r in rows),
        "complaint_limit": selectors.COMPLAINT_RATE_LIMIT,
        "invite_form": AgencyInviteForm(workspaces=[r["workspace"] for r in rows
                                                    if r["workspace"].archived_at is None]) if manage else None,
    })


@require_GET
@workspace_view()
def campaign_report_pdf(request, workspace_slug, pk):
    """The report as a PDF to send to the client, with the agency's and the client's names."""
    campaign, run, deliveries = _campaign_scope(request, pk)
    workspace = request.workspace
    context = {**report_context(deliveries, per_delivery=True), "title": campaign.name,
               "subtitle": f"Run #{run.pk} of {run.created_at:%Y-%m-%d %H:%M}" if run else "All live runs",
               **pdf.branding(workspace)}
    response = HttpResponse(pdf.report_pdf(context), content_type="application/pdf")
    stem = f"campaign-{campaign.pk}" + (f"-run-{run.pk}" if run else "")
    response["Content-Disposition"] = f'attachment; filename="{stem}-report.pdf"'
    return response


def _subscriptions(request, campaign) -> list:
    return list(ReportSubscription.objects.filter(workspace=request.workspace, campaign=campaign).order_by("id"))


@require_POST
@workspace_view()
def campaign_subscribe(request, workspace_slug, pk):
    """Email this campaign's report every week (with its PDF)."""
    campaign = campaign_selectors.access_campaign(request.user, request.workspace, pk)
    form = SubscriptionForm(request.POST)
    if form.is_valid():
        try:
            services.subscription_create(workspace=request.workspace, actor=request.user, campaign=campaign,
                                         **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
    if form.errors:
        messages.error(request, "Not scheduled: " + "; ".join(
            f"{name}: {' '.join(errs)}" for name, errs in form.errors.items()))
    else:
        messages.success(request, "The report will be emailed every week.")
    return redirect("rep-campaign", workspace_slug=workspace_slug, pk=campaign.pk)


@require_POST
@workspace_view()
def subscription_delete(request, workspace_slug, pk):
    subscription = access_object(ReportSubscription.objects.select_related("campaign"), request.workspace, pk)
    campaign_id = subscription.campaign_id
    services.subscription_delete(workspace=request.workspace, actor=request.user, subscription=subscription)
    messages.success(request, "The weekly email is cancelled.")
    return redirect("rep-campaign", workspace_slug=workspace_slug, pk=campaign_id)


def _editable_workspaces(request, organization, role) -> list:
    """The agency's workspaces where this person may create things (marketer or above)."""
    found = []
    for workspace in tenant_selectors.organization_workspaces(organization=organization, user=request.user,
                                                              role=role, archived=False):
        if at_least(workspace_role(request.user, workspace), WorkspaceRole.MARKETER):
            found.append(workspace)
    return found


@login_required
def agency_copy(request, org_slug):
    """Copy a template, audience or campaign to another client: GET lists what the chosen
    client has, POST copies one thing (checked against the target's data model)."""
    organization, role = access_organization(request.user, org_slug)
    workspaces = _editable_workspaces(request, organization, role)
    by_slug = {w.slug: w for w in workspaces}
    if request.method == "POST":
        source, target = by_slug.get(request.POST.get("source", "")), by_slug.get(request.POST.get("target", ""))
        kind = request.POST.get("kind", "")
        if source is None or target is None:
            raise Http404("Not found.")
        model = {"template": ContentTemplate, "audience": Audience, "campaign": Campaign}.get(kind)
        if model is None:
            return HttpResponse("kind: a template, an audience or a campaign.", status=400, content_type="text/plain")
        obj = access_object(model.objects.all(), source, request.POST.get("id"))
        try:
            copied, made = copying.copy_object(source=source, target=target, actor=request.user, kind=kind, obj=obj)
        except copying.CopyRefused as exc:
            messages.error(request, f"Nothing was copied to {target.name}: " + "; ".join(exc.problems))
        else:
            messages.success(request, f"Copied to {target.name}: " + ", ".join(made) + ".")
        return redirect(f"{request.path}?from={source.slug}")
    if request.method not in ("GET", "HEAD"):
        return HttpResponse(status=405)
    source = by_slug.get(request.GET.get("from", "")) or (workspaces[0] if workspaces else None)
    objects = {}
    if source is not None:
        objects = {
            "template": list(ContentTemplate.objects.filter(workspace=source).order_by("name")),
            "audience": list(Audience.objects.filter(workspace=source, origin="rule").order_by("name")),
            "campaign": list(Campaign.objects.filter(workspace=source).exclude(status="archived").order_by("name")),
        }
    return render(request, "reports/agency_copy.html", {
        "organization": organization, "workspaces": workspaces, "source": source, "objects": objects,
        "targets": [w for w in workspaces if source is None or w.pk != source.pk]})
