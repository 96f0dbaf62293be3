"""The reports panel of the workspace home (registered with tenants.dashboard): the
client's last 30 days, a chart of them, and the latest deliveries with their figures."""

from __future__ import annotations

from django.template.loader import render_to_string

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
