"""Isolation probes for the templates API and the email and SMS configuration APIs (see probes.py)."""

from __future__ import annotations

from typing import Any

from apps.tenants.models import Workspace
from tests.isolation.probes import Probe
from tests.isolation.probes_audiences_api import _travel
from tests.isolation.probes_templates_ui import (
    CONTENT,
    _new_domain,
    _sender_domain,
    _template,
    _travel_sending,
)

_counter = iter(range(1, 10**6))


def _body(ws: Workspace) -> dict[str, Any]:
    return {"name": f"Probe API template {next(_counter)}", "channel": "email", "content": CONTENT}


def _config(ws: Workspace) -> dict[str, Any]:
    return {"backend": "smtp", "options": {"host": "127.0.0.1", "port": 2525 + next(_counter)},
            "secret": "probe-secret"}


def _sms_config(ws: Workspace) -> dict[str, Any]:
    return {"backend": "vonage", "options": {"account": f"probekey{next(_counter)}", "sender_kind": "alphanumeric",
                                             "sender": "Probe"}, "secret": "probe-secret"}


_gateway: list[Any] = []


def _sms_configured(ws: Workspace) -> dict[str, Any]:
    """An SMS configuration sending to a loopback server that speaks Twilio's API."""
    from apps.channels.models import ChannelConfig
    from bench.smsgateway import SmsGateway

    sid, token = "AC" + "0" * 32, "probe-token"
    if not _gateway:
        _gateway.append(SmsGateway(twilio=(sid, token), keep=False).start())
    config, _ = ChannelConfig.objects.update_or_create(workspace=ws, channel="sms", defaults={
        "backend": "twilio", "options": {"account": sid, "sender": "+14155550100", "base_url": _gateway[0].url}})
    config.secret = token
    config.save()
    return {}


PROBES: list[Probe] = [
    Probe("api-tpl-list", {"GET": "viewer", "POST": "marketer"}, data=_body, api=True),
    Probe("api-tpl-check", {"POST": "marketer"}, data=lambda ws: {"channel": "email", "content": CONTENT},
          api=True, writes=False),
    Probe("api-tpl-detail", {"GET": "viewer", "PUT": "marketer", "PATCH": "marketer", "DELETE": "marketer"},
          make=_template, data=_body, api=True),
    Probe("api-tpl-preview", {"POST": "marketer"}, setup=_travel, make=_template, data=lambda ws: {"key": "1"},
          api=True, writes=False),
    Probe("api-tpl-proof", {"POST": "marketer"}, setup=_travel_sending, make=_template,
          data=lambda ws: {"addresses": ["qa@example.test"]}, api=True),
    Probe("api-chan-email", {"GET": "admin", "PUT": "admin"}, data=_config, api=True),
    Probe("api-chan-email-test", {"POST": "admin"}, data=lambda ws: {"address": "qa@example.test"}, api=True,
          writes=False),
    Probe("api-chan-sms", {"GET": "admin", "PUT": "admin"}, data=_sms_config, api=True),
    Probe("api-chan-sms-test", {"POST": "admin"}, setup=_sms_configured, data=lambda ws: {"phone": "+447911123456"},
          api=True, writes=False),
    Probe("api-sender-domains", {"GET": "admin", "POST": "admin"}, data=_new_domain, api=True),
    Probe("api-sender-domain", {"GET": "admin", "DELETE": "admin"}, make=_sender_domain, api=True),
    Probe("api-sender-domain-check-dns", {"POST": "admin"}, make=_sender_domain, api=True),
    Probe("api-sender-domain-resend", {"POST": "admin"}, make=_sender_domain, api=True),
]
