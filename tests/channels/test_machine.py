"""Which opens and clicks no person made."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.channels.machine import machine_kind

PERSON = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
AN_HOUR_AGO = 3600  # seconds between the send and the hit


@pytest.mark.parametrize(("agent", "ip", "sent_ago", "kind"), [
    (PERSON, "203.0.113.9", AN_HOUR_AGO, ""),
    ("Mozilla/5.0", "198.51.100.4", AN_HOUR_AGO, "apple_mpp"),  # Apple's proxy's bare agent
    (PERSON, "17.58.0.12", AN_HOUR_AGO, "apple_mpp"),  # Apple's network
    ("Mozilla/5.0 (compatible; Barracuda Sentinel)", "203.0.113.9", AN_HOUR_AGO, "scanner"),
    ("facebookexternalhit/1.1 Facebot Twitterbot/1.0", "203.0.113.9", AN_HOUR_AGO, "scanner"),  # iMessage preview
    ("WhatsApp/2.23.20.0", "203.0.113.9", AN_HOUR_AGO, "scanner"),
    ("python-requests/2.32", None, AN_HOUR_AGO, "scanner"),
    ("", "203.0.113.9", AN_HOUR_AGO, "scanner"),
    (PERSON, "203.0.113.9", 2, "too_soon"),
    (PERSON, "not an address", None, ""),
    (PERSON, "2001:db8::1", AN_HOUR_AGO, ""),
])
def test_machine_opens_and_clicks_are_told_apart(agent, ip, sent_ago, kind):
    sent_at = None if sent_ago is None else timezone.now() - dt.timedelta(seconds=sent_ago)
    assert machine_kind(user_agent=agent, ip=ip, sent_at=sent_at) == kind
