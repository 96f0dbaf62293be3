"""The reports panel of the workspace home (registered with tenants.dashboard): the
client's last 30 days, a chart of them, and the latest deliveries with their figures."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.urls import reverse

from . import charts, selectors

DAYS = 30


def workspace_panel(request) -> str:
    workspace = request.workspace
    figures = selectors.workspaces_summary([workspace.pk], days=DAYS)[workspace.pk]
    series = selectors.workspace_series(workspace.pk, days=DAYS)
    recent = selectors.per_delivery(selectors.recent_deliveries(workspace=workspace))
    return render_to_string("reports/_workspace_panel.html", {
        "figures": figures, "series": series, "chart": charts.line_chart(series), "recent": recent, "days": DAYS,
        "complaint_limit": selectors.COMPLAINT_RATE_LIMIT,
        "has_activity": any(p[m] for p in series["points"] for m in series["metrics"]),
    }, request=request)


def run_results(run) -> dict[str, dict]:
    """A live run's channel activities with their delivery's figures (campaigns.hooks)."""
    deliveries = [d for d in selectors.deliveries_of(workspace=run.workspace, run=run) if d.node_id]
    found: dict[str, dict] = {}
    for row in selectors.per_delivery(deliveries):
        delivery = row["delivery"]
        parts = [f"{row['sent']:,} sent"]
        if row["delivered"]:
            parts.append(f"{row['delivered']:,} delivered")
        if row["open_rate"] is not None and delivery.channel == "email":
            parts.append(f"{row['open_rate'] * 100:.1f} % opened")
        if row["click_rate"] is not None and row["clicked_unique"]:
            parts.append(f"{row['click_rate'] * 100:.1f} % clicked")
        if row["failed"]:
            parts.append(f"{row['failed']:,} failed")
        found[delivery.node_id] = {
            "short": f"{row['sent']:,} sent", "text": " · ".join(parts), "figures": row,
            "url": reverse("rep-delivery", args=[run.workspace.slug, delivery.pk])}
    return found
