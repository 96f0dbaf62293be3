"""The agency's home: every client workspace with its last 30 days, from the rollups and
a few grouped queries (a constant number of queries whatever the number of clients)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from apps.campaigns import selectors as campaign_selectors
from apps.channels import selectors as channel_selectors
from apps.consent import selectors as consent_selectors
from apps.tenants.models import Workspace

from . import selectors

DAYS = 30
# Sortable columns: key -> (label, value of a row).
COLUMNS: dict[str, str] = {
    "name": "Workspace", "sent": "Messages", "delivery_rate": "Delivered", "open_rate": "Opened",
    "click_rate": "Clicked", "bounce_rate": "Bounces", "complaint_rate": "Complaints", "live": "Running",
    "scheduled": "Scheduled", "attention": "Attention", "consent_net": "Consent +/−",
}


def agency_rows(workspaces: list[Workspace]) -> list[dict[str, Any]]:
    ids = [w.pk for w in workspaces]
    since = timezone.now() - timedelta(days=DAYS)
    figures = selectors.workspaces_summary(ids, days=DAYS)
    health = campaign_selectors.campaign_health_by_workspace(ids, since=since)
    trouble = channel_selectors.deliveries_in_trouble_by_workspace(ids)
    consent = consent_selectors.consent_growth_by_workspace(ids, since=since)
    rows = []
    for workspace in workspaces:
        f, h, c = figures[workspace.pk], health[workspace.pk], consent[workspace.pk]
        complaint = f["complaint_rate"]
        rows.append({
            "workspace": workspace, "name": workspace.name.lower(), **{k: f[k] for k in (
                "sent", "delivered", "delivery_rate", "open_rate", "click_rate", "bounce_rate", "complaint_rate",
                "opened_unique", "clicked_unique", "bounced_hard", "complained")},
            "live": h["live"], "scheduled": h["scheduled"], "failed_runs": h["failed_runs"],
            "outages": trouble.get(workspace.pk, 0), "attention": h["failed_runs"] + trouble.get(workspace.pk, 0),
            "consent_granted": c["granted"], "consent_withdrawn": c["withdrawn"],
            "consent_net": c["granted"] - c["withdrawn"],
            "complaint_alarm": complaint is not None and complaint > selectors.COMPLAINT_RATE_LIMIT,
            "complaint_warn": complaint is not None and complaint > selectors.COMPLAINT_RATE_TARGET,
            "bounce_alarm": f["bounce_rate"] is not None and f["bounce_rate"] > selectors.BOUNCE_RATE_LIMIT,
        })
    return rows


def sort_rows(rows: list[dict[str, Any]], key: str, descending: bool) -> list[dict[str, Any]]:
    """Sorted by a column; rows without a value (no rate yet) always last."""
    if key not in COLUMNS:
        key = "name"
    present = [r for r in rows if r[key] is not None]
    missing = [r for r in rows if r[key] is None]
    return sorted(present, key=lambda r: (r[key], r["name"]), reverse=descending) + missing
