"""Isolation probes for the Consent screens (see probes.py for what a probe says)."""

from __future__ import annotations

from typing import Any

from apps.consent.models import FrequencyCap
from apps.tenants.models import Workspace
from tests.isolation.probes import Probe
from tests.isolation.probes_consent_api import _newsletter, _rule_set, _suppression, _topic

_counter = iter(range(1, 10**6))


def _cap(ws: Workspace) -> dict[str, Any]:
    rule_set_pk = _rule_set(ws)["pk"]
    return {"pk": FrequencyCap.objects.get(rule_set_id=rule_set_pk).pk}


def _csv_upload(ws: Workspace) -> dict[str, Any]:
    from tests.isolation.probes_consent_api import _csv

    return {"file": _csv(), "mode": "reject", "max_errors": "100"}


def _record(ws: Workspace) -> dict[str, Any]:
    from apps.consent.models import Topic

    topic = Topic.objects.get(workspace=ws, key="newsletter", channel="email")
    return {"key": f"ui-profile-{next(_counter)}", "topic": str(topic.pk), "granted": "1", "proof": "phone call"}


PROBES: list[Probe] = [
    Probe("consent-topics", {"GET": "viewer", "POST": "admin"},
          data=lambda ws: {"key": f"ui-topic-{next(_counter)}", "name": "UI topic", "channel": "email",
                           "policy": "opt_in", "description": ""}),
    Probe("consent-topic-edit", {"GET": "viewer", "POST": "admin"}, make=_topic,
          data=lambda ws: {"name": f"Renamed {next(_counter)}", "policy": "opt_out", "description": "x"}),
    Probe("consent-topic-delete", {"POST": "admin"}, make=_topic),
    Probe("consent-suppressions", {"GET": "marketer", "POST": "approver"},
          data=lambda ws: {"kind": "domain", "value": f"spam{next(_counter)}.example", "reason": "manual",
                           "note": "", "expires_at": ""}),
    Probe("consent-suppression-remove", {"POST": "admin"}, make=_suppression),
    Probe("consent-rules", {"GET": "viewer", "POST": "admin"}, data=lambda ws: {"name": f"UI caps {next(_counter)}"}),
    Probe("consent-rule-rename", {"POST": "admin"}, make=_rule_set,
          data=lambda ws: {"name": f"UI renamed {next(_counter)}"}),
    Probe("consent-rule-delete", {"POST": "admin"}, make=_rule_set),
    Probe("consent-cap-add", {"POST": "admin"}, make=_rule_set,
          data=lambda ws: {"limit": "4", "channel": "", "period": "month"}),
    Probe("consent-cap-remove", {"POST": "admin"}, make=_cap),
    Probe("consent-quiet-hours", {"GET": "viewer", "POST": "admin"},
          data=lambda ws: {"sms-enabled": "1", "sms-from": "08:00", "sms-until": f"{next(_counter) % 3 + 19}:00"}),
    Probe("consent-policy", {"GET": "viewer", "POST": "admin"},
          data=lambda ws: {"four_eyes": "on", "soft_bounce_threshold": str(next(_counter) % 19 + 2),
                           "unsubscribe_link_days": "30"}),
    Probe("consent-inbound-sms-rotate", {"POST": "admin"}, data=lambda ws: {"grace_minutes": "5"}),
    Probe("consent-import", {"GET": "marketer", "POST": "marketer"}, setup=_newsletter, data=_csv_upload,
          multipart=True),
    Probe("consent-profile", {"GET": "viewer", "POST": "marketer"}, setup=_newsletter, data=_record,
          query=lambda kwargs: {"key": "someone"}),
]
