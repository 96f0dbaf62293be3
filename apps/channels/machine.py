"""Opens and clicks that no person made: privacy proxies that fetch every image of a
mail as it arrives (Apple Mail Privacy Protection), security scanners that follow every
link before the recipient sees it, and link-preview fetchers of messaging apps. Such
events are kept (a proxy open still says the mail arrived) but flagged in their data as
`machine`, so reports count them apart from people's."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime

from django.utils import timezone

# Apple's proxies fetch with a bare "Mozilla/5.0" from Apple's own network (17.0.0.0/8).
APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")
BARE_MOZILLA = "Mozilla/5.0"
# Scanners, HTTP libraries and preview fetchers name themselves.
AGENTS = re.compile(
    r"barracuda|mimecast|proofpoint|symantec|trendmicro|fortinet|sophos|forcepoint|safelinks|"
    r"bot\b|bot/|crawler|spider|headlesschrome|python-requests|python-urllib|aiohttp|curl/|wget/|"
    r"go-http-client|java/|okhttp|libwww|facebookexternalhit|whatsapp|telegrambot|slackbot|skypeuripreview|"
    r"discordbot|linkedinbot|microsoft office|ms-office", re.IGNORECASE)
# A person does not open or click within seconds of the send; a scanner at the gateway does.
TOO_SOON_SECONDS = 5


def machine_kind(*, user_agent: str, ip: str | None, sent_at: datetime | None, now: datetime | None = None) -> str:
    """Why this open or click looks automatic ("apple_mpp", "scanner", "too_soon"), or ""
    when it looks like a person."""
    agent = (user_agent or "").strip()
    address = None
    if ip:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            address = None
    if agent == BARE_MOZILLA or (address is not None and address.version == 4 and address in APPLE_NETWORK):
        return "apple_mpp"
    if not agent or AGENTS.search(agent):
        return "scanner"
    if sent_at is not None and ((now or timezone.now()) - sent_at).total_seconds() < TOO_SOON_SECONDS:
        return "too_soon"
    return ""
