"""Isolation probes for the deliveries API (see probes.py for what a probe says)."""

from __future__ import annotations

from tests.isolation.probes import Probe
from tests.isolation.probes_channels_ui import _email_delivery

PROBES: list[Probe] = [
    Probe("api-chan-delivery-list", {"GET": "viewer"}, api=True),
    Probe("api-chan-delivery-detail", {"GET": "viewer"}, make=_email_delivery, api=True),
    Probe("api-chan-delivery-messages", {"GET": "viewer"}, make=_email_delivery, api=True),
    Probe("api-chan-delivery-stop", {"POST": "approver"}, make=_email_delivery, api=True),
]
