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


PROBES: list[Probe] = [
    Probe("rep-campaign", {"GET": "viewer"}, make=_campaign),
    Probe("rep-campaign-csv", {"GET": "viewer"}, make=_campaign_table),
    Probe("rep-campaign-pdf", {"GET": "viewer"}, make=_campaign),
    Probe("rep-delivery", {"GET": "viewer"}, make=_email_delivery),
    Probe("rep-delivery-csv", {"GET": "viewer"}, make=_delivery_table),
]
