"""Isolation probes for the template editor and the email configuration page (see
probes.py for what a probe says). Previews and proofs read the travel model's records;
the test email goes to Django's in-memory outbox (no configuration: the platform's)."""

from __future__ import annotations

from typing import Any

from apps.channels.models import ContentTemplate, SenderDomain
from apps.tenants.models import Workspace
from tests.isolation.probes import Probe
from tests.isolation.probes_audiences_api import _travel

_counter = iter(range(1, 10**6))

CONTENT = {"subject": "Hello {{ profile.first_name }}", "html": "<p>Dear {{ profile.first_name }},</p>",
           "from_email": "news@probe.test"}


def _template(ws: Workspace) -> dict[str, Any]:
    template = ContentTemplate.objects.create(workspace=ws, name=f"Probe template {next(_counter)}",
                                              channel="email", content=CONTENT)
    return {"pk": template.pk}


def _travel_sending(ws: Workspace) -> dict[str, Any]:
    """The travel model, and the content's sender domain verified (proofs go through the
    platform's server, which sends only from verified domains)."""
    SenderDomain.objects.get_or_create(workspace=ws, domain="probe.test", defaults={"status": "verified"})
    return _travel(ws)


def _sender_domain(ws: Workspace) -> dict[str, Any]:
    sender = SenderDomain.objects.create(workspace=ws, domain=f"probe{next(_counter)}.test")
    return {"pk": sender.pk}


def _new_domain(ws: Workspace) -> dict[str, Any]:
    return {"domain": f"new{next(_counter)}.test", "mailbox": "postmaster"}


def _image(ws: Workspace) -> dict[str, Any]:
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(out, format="PNG")
    return {"image": SimpleUploadedFile("probe.png", out.getvalue(), content_type="image/png")}


def _editor(ws: Workspace) -> dict[str, Any]:
    return {"name": f"Probe template {next(_counter)}", "channel": "email", "entity_key": "", "page_size": "A4",
            **CONTENT}


def _email_settings(ws: Workspace) -> dict[str, Any]:
    return {"backend": "smtp", "host": "127.0.0.1", "port": 2525 + next(_counter), "security": "none",
            "timeout": 10, "secret": "probe-secret", "window_hours": 12, "max_attempts": 5, "chunk_size": 200,
            "parallel_tasks": 2}


def _sms_settings(ws: Workspace) -> dict[str, Any]:
    return {"backend": "vonage", "account": f"probekey{next(_counter)}", "sender_kind": "alphanumeric",
            "sender": "Probe", "secret": "probe-secret", "window_hours": 12, "max_attempts": 5, "chunk_size": 200,
            "parallel_tasks": 2}


def _sms_configured(ws: Workspace) -> dict[str, Any]:
    from tests.isolation.probes_templates_api import _sms_configured as configured

    return configured(ws)


PROBES: list[Probe] = [
    Probe("tpl-list", {"GET": "viewer"}),
    Probe("tpl-new", {"GET": "marketer", "POST": "marketer"}, data=_editor),
    Probe("tpl-edit", {"GET": "viewer", "POST": "marketer"}, make=_template, data=_editor),
    Probe("tpl-delete", {"POST": "marketer"}, make=_template),
    Probe("tpl-check", {"POST": "marketer"}, data=_editor, writes=False),
    Probe("tpl-preview", {"POST": "marketer"}, setup=_travel, data=lambda ws: {**_editor(ws), "preview-key": "1"},
          writes=False),
    # The live SMS counter and push cards only read what is posted (and the SMS price).
    Probe("tpl-sms-count", {"POST": "marketer"}, data=lambda ws: {"sms_text": "Hello ✈"}, writes=False),
    Probe("tpl-push-preview", {"POST": "marketer"}, data=lambda ws: {"title": "Hi", "push_text": "Body",
                                                                     "data_key_0": "k", "data_value_0": "v"},
          writes=False),
    Probe("tpl-proof", {"POST": "marketer"}, setup=_travel_sending,
          data=lambda ws: {**_editor(ws), "proof-addresses": "qa@example.test"}),
    Probe("tpl-blocks-html", {"POST": "marketer"}, writes=False, data=lambda ws: {
        "blocks": '{"blocks": [{"type": "text", "text": "Hi {{ profile.first_name }}"}]}'}),
    Probe("media-images", {"GET": "marketer", "POST": "marketer"}, data=_image, multipart=True),
    # The configuration holds the server's credentials: workspace admins only.
    Probe("chan-email-settings", {"GET": "admin", "POST": "admin"}, data=_email_settings),
    Probe("chan-email-test", {"POST": "admin"}, data=lambda ws: {"address": "qa@example.test"}, writes=False),
    Probe("chan-sms-settings", {"GET": "admin", "POST": "admin"}, data=_sms_settings),
    Probe("chan-sms-test", {"POST": "admin"}, setup=_sms_configured, data=lambda ws: {"phone": "+447911123456"},
          writes=False),
    Probe("chan-sender-domains", {"GET": "admin", "POST": "admin"}, data=_new_domain),
    Probe("chan-sender-domain-resend", {"POST": "admin"}, make=_sender_domain),
    Probe("chan-sender-domain-check-dns", {"POST": "admin"}, make=_sender_domain),
    Probe("chan-sender-domain-delete", {"POST": "admin"}, make=_sender_domain),
]
