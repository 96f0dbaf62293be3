"""Isolation probes for the report pages and their CSV exports (see probes.py)."""

from __future__ import annotations

from typing import Any

from apps.tenants.models import Workspace
from tests.isolation.probes import Probe
from tests.isolation.probes_campaigns_ui import _campaign
from tests.isolation.probes_channels_ui import _email_delivery


def _campaign_table(ws: Workspace) -> dict[str, Any]:
    return {**_campaign(ws), "table": "figures"}


def _delivery_table(ws: Workspace) -> dict[str, Any]:
    return {**_email_delivery(ws), "table": "domains"}


def _subscription(ws: Workspace) -> dict[str, Any]:
    from apps.campaigns.models import Campaign
    from apps.reports.models import ReportSubscription

    campaign = Campaign.objects.get(pk=_campaign(ws)["pk"])
    return {"pk": ReportSubscription.objects.create(workspace=ws, campaign=campaign, recipients=["a@example.test"]).pk}


PROBES: list[Probe] = [
    Probe("rep-campaign", {"GET": "viewer"}, make=_campaign),
    Probe("rep-campaign-csv", {"GET": "viewer"}, make=_campaign_table),
    Probe("rep-campaign-pdf", {"GET": "viewer"}, make=_campaign),
    Probe("rep-campaign-subscribe", {"POST": "marketer"}, make=_campaign,
          data=lambda ws: {"recipients": "client@example.test", "weekday": "0", "hour": "8"}),
    Probe("rep-subscription-delete", {"POST": "marketer"}, make=_subscription),
    Probe("rep-delivery", {"GET": "viewer"}, make=_email_delivery),
    Probe("rep-delivery-csv", {"GET": "viewer"}, make=_delivery_table),
]
