"""Isolation probes for the consent API (see probes.py for what a probe says). A profile's
URL names a profile key: one with a consent event in the probe's workspace (another
workspace's key is unknown there, so 404)."""

from __future__ import annotations

from typing import Any

from apps.consent import services
from apps.consent.models import FrequencyCap, RuleSet, Suppression, Topic
from apps.tenants.models import Workspace
from tests.isolation.probes import Probe

_counter = iter(range(1, 10**6))


def _topic(ws: Workspace) -> dict[str, Any]:
    topic = Topic.objects.create(workspace=ws, key=f"probe-{next(_counter)}", name="Probe news", channel="email")
    return {"pk": topic.pk}


def _newsletter(ws: Workspace) -> dict[str, Any]:
    """The topic the bodies name (setup: in both workspaces, before the URL's object)."""
    Topic.objects.get_or_create(workspace=ws, key="newsletter", channel="email", defaults={"name": "Newsletter"})
    return {}


def _profile(ws: Workspace) -> dict[str, Any]:
    topic, _ = Topic.objects.get_or_create(workspace=ws, key="newsletter", channel="email",
                                           defaults={"name": "Newsletter"})
    key = f"probe-profile-{next(_counter)}"
    services.consent_record(workspace=ws, profile_key=key, topic=topic, granted=True, source="api", audit=False)
    return {"profile_key": key}


def _suppression(ws: Workspace) -> dict[str, Any]:
    suppression = Suppression.objects.create(workspace=ws, kind="email", value=f"gone{next(_counter)}@probe.test",
                                             reason="hard_bounce")
    return {"pk": suppression.pk}


def _rule_set(ws: Workspace) -> dict[str, Any]:
    rule_set = RuleSet.objects.create(workspace=ws, name=f"Probe caps {next(_counter)}")
    FrequencyCap.objects.create(workspace=ws, rule_set=rule_set, channel="email", limit=3, period="week")
    return {"pk": rule_set.pk}


def _consent(ws: Workspace) -> dict[str, Any]:
    return {"profile_key": f"k{next(_counter)}", "topic": "newsletter", "channel": "email", "granted": True}


def _topic_body(ws: Workspace) -> dict[str, Any]:
    return {"key": f"probe-new-{next(_counter)}", "name": "Probe offers", "channel": "sms", "policy": "opt_out"}


PROBES: list[Probe] = [
    Probe("api-consent-topic-list", {"GET": "viewer", "POST": "admin"}, data=_topic_body, api=True),
    Probe("api-consent-topic-detail", {"GET": "viewer", "PUT": "admin", "PATCH": "admin", "DELETE": "admin"},
          make=_topic, data=lambda ws: {"name": f"Renamed {next(_counter)}", "policy": "opt_out"}, api=True),
    Probe("api-consent-record", {"POST": "marketer"}, setup=_newsletter, data=_consent, api=True),
    Probe("api-consent-batch", {"POST": "marketer"}, setup=_newsletter,
          data=lambda ws: {"mode": "reject", "consents": [_consent(ws), _consent(ws)]}, api=True),
    Probe("api-consent-import", {"POST": "marketer"}, setup=_newsletter, multipart=True, api=True,
          data=lambda ws: {"mode": "skip", "file": _csv()}),
    Probe("api-consent-profile", {"GET": "viewer"}, make=_profile, api=True),
    Probe("api-consent-history", {"GET": "marketer"}, make=_profile, api=True),
    Probe("api-consent-suppression-list", {"GET": "marketer", "POST": "approver"},
          data=lambda ws: {"kind": "email", "value": f"Someone{next(_counter)}@Probe.test", "reason": "manual"},
          api=True),
    Probe("api-consent-suppression-detail", {"GET": "marketer", "DELETE": "admin"}, make=_suppression, api=True),
    Probe("api-consent-ruleset-list", {"GET": "viewer", "POST": "admin"},
          data=lambda ws: {"name": f"New caps {next(_counter)}", "caps": [{"limit": 2, "period": "day"}]},
          api=True),
    Probe("api-consent-ruleset-detail", {"GET": "viewer", "PUT": "admin", "DELETE": "admin"}, make=_rule_set,
          data=lambda ws: {"name": f"Renamed caps {next(_counter)}",
                           "caps": [{"channel": "sms", "limit": 1, "period": "day"}]}, api=True),
    Probe("api-consent-quiet-hours", {"GET": "viewer", "PUT": "admin"},
          data=lambda ws: {"sms": {"allowed_from": "08:00", "allowed_until": f"{next(_counter) % 3 + 19}:00"}},
          api=True),
    Probe("api-consent-policy", {"GET": "viewer", "PUT": "admin"},
          data=lambda ws: {"soft_bounce_threshold": next(_counter) % 19 + 2, "four_eyes": True}, api=True),
    Probe("api-consent-inbound-sms-url", {"GET": "admin", "POST": "admin"}, data=lambda ws: {"grace_minutes": 5},
          api=True),
]


def _csv():
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = f"profile_key,topic,channel,granted\nc{next(_counter)},newsletter,email,yes\n".encode()
    return SimpleUploadedFile("consents.csv", body, content_type="text/csv")
