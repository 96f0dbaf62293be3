"""Writes of the reports app: folding the rollups, the weekly report subscriptions and
their sending."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import connection, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from apps.tenants.services import audit_record

from . import pdf, selectors
from .context import report_context
from .models import ReportSubscription

logger = logging.getLogger(__name__)
MAX_RECIPIENTS = 10


# After folding this many deltas the delta table is vacuumed and analyzed at once: it is
# a queue, emptied every minute, and reads of a workspace's figures (the agency home)
# scanned its dead rows (170 ms for an empty table after a million sends) with a plan
# made for the rows it held when last analyzed.
VACUUM_AFTER = 50_000


def rollups_compact() -> int:
    """Fold the pending deltas into the rollups (beat runs it every minute); how many
    deltas were folded (0 also when another folder holds the lock)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reports_compact()")
        folded = int(cursor.fetchone()[0])
        if folded >= VACUUM_AFTER and not connection.in_atomic_block:
            cursor.execute("VACUUM (ANALYZE) reports_rollupdelta")
        return folded


def clean_recipients(raw: str | list[str]) -> list[str]:
    """Addresses separated by commas, spaces or lines: each valid, at most ten, no repeats."""
    items = raw if isinstance(raw, list) else str(raw).replace(",", " ").split()
    found: list[str] = []
    for item in items:
        address = str(item).strip().lower()
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError({"recipients": f"{address[:80]!r} is not an email address."}) from None
        if address not in found:
            found.append(address)
    if not found:
        raise ValidationError({"recipients": "At least one address."})
    if len(found) > MAX_RECIPIENTS:
        raise ValidationError({"recipients": f"At most {MAX_RECIPIENTS} addresses."})
    return found


def subscription_create(*, workspace, actor: Any, campaign, recipients: str | list[str], weekday: int,
                        hour: int) -> ReportSubscription:
    if not 0 <= int(weekday) <= 6:
        raise ValidationError({"weekday": "A day of the week, 0 (Monday) to 6 (Sunday)."})
    if not 0 <= int(hour) <= 23:
        raise ValidationError({"hour": "An hour from 0 to 23."})
    subscription = ReportSubscription.objects.create(
        workspace=workspace, campaign=campaign, recipients=clean_recipients(recipients), weekday=int(weekday),
        hour=int(hour), created_by=actor if getattr(actor, "pk", None) else None)
    audit_record(workspace=workspace, actor=actor, verb="report.subscribed", target=campaign,
                 data={"recipients": subscription.recipients, "weekday": subscription.get_weekday_display(),
                       "hour": subscription.hour})
    return subscription


def subscription_delete(*, workspace, actor: Any, subscription: ReportSubscription) -> None:
    audit_record(workspace=workspace, actor=actor, verb="report.unsubscribed", target=subscription.campaign,
                 data={"recipients": subscription.recipients})
    subscription.delete()


def _due(subscription: ReportSubscription, now: dt.datetime) -> bool:
    """Its weekday and hour have come in the workspace's zone, and it was not sent since."""
    local = now.astimezone(subscription.workspace.zone)
    if local.weekday() != subscription.weekday or local.hour < subscription.hour:
        return False
    slot = local.replace(hour=subscription.hour, minute=0, second=0, microsecond=0)
    return subscription.last_sent_at is None or subscription.last_sent_at < slot


def weekly_report_send(subscription: ReportSubscription) -> None:
    campaign, workspace = subscription.campaign, subscription.workspace
    deliveries = selectors.deliveries_of(workspace=workspace, campaign=campaign)
    context = {**report_context(deliveries, per_delivery=True), "title": campaign.name, "subtitle": "All live runs",
               **pdf.branding(workspace)}
    body = render_to_string("reports/weekly_email.txt", {**context, "campaign": campaign, "workspace": workspace,
                                                         "report_url": settings.SITE_URL.rstrip("/") +
                                                         f"/w/{workspace.slug}/reports/campaigns/{campaign.pk}/"})
    message = EmailMessage(subject=f"Weekly report: {campaign.name} ({workspace.name})", body=body,
                           to=subscription.recipients)
    message.attach(f"campaign-{campaign.pk}-report.pdf", pdf.report_pdf(context), "application/pdf")
    message.send()


def weekly_reports_send(now: dt.datetime | None = None) -> int:
    """Every subscription due now, each sent once: claimed under a row lock (two beats or
    workers never send it twice) and marked in the same transaction."""
    now = now or timezone.now()
    sent = 0
    for pk in ReportSubscription.objects.values_list("pk", flat=True):
        with transaction.atomic():
            subscription = (ReportSubscription.objects.select_for_update(skip_locked=True, of=("self",))
                            .select_related("workspace__organization", "campaign").filter(pk=pk).first())
            if subscription is None or subscription.workspace.archived_at or not _due(subscription, now):
                continue
            try:
                weekly_report_send(subscription)
            except Exception:  # one failing report (a bad address at the server) must not stop the others
                logger.exception("weekly report %s failed", subscription.pk)
                continue
            subscription.last_sent_at = now
            subscription.save(update_fields=["last_sent_at"])
            sent += 1
    return sent
