"""A channel activity's content: a saved template, inline fields over it, sender defaults
from the workspace and its channel configuration, checked against the model."""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from apps.datamodel.models import Entity
from apps.datamodel.schema import Schema

from . import blocks
from .models import ChannelConfig, ContentTemplate
from .personalization import TemplateProblem, check_content

REQUIRED = {
    "email": ("subject", "html"),
    "sms": ("text",),
    "push": ("text",),
    "direct_mail": ("html",),
}
DIRECT_MAIL_DEFAULTS = {"page_size": "A4", "css": ""}
# Fields that end up in a header line: a line break (or NUL) in them would add headers or
# start the body (header injection). Addresses are plain text, the others templates.
HEADER_FIELDS = {"email": ("from_name", "subject", "from_email", "reply_to"), "push": ("title",)}
ADDRESS_FIELDS = ("from_email", "reply_to")
LINE_BREAKING = re.compile(r"[\r\n\x00]")


def header_problems(channel: str, content: dict[str, Any]) -> list[TemplateProblem]:
    """Sender addresses that are not one email address, and header fields with a line
    break or NUL in them."""
    found = []
    for field in HEADER_FIELDS.get(channel, ()):
        value = content.get(field)
        if value in (None, ""):
            continue
        if not isinstance(value, str):
            found.append(TemplateProblem(field, "must be text"))
        elif LINE_BREAKING.search(value):
            found.append(TemplateProblem(field, "must be one line: line breaks and NUL characters are not allowed "
                                                "in an email header"))
        elif field in ADDRESS_FIELDS:
            try:
                validate_email(value)
            except ValidationError:
                found.append(TemplateProblem(field, f"{value[:100]!r} is not one email address (like "
                                                    "news@example.com)"))
    return found


def resolve(workspace, channel: str, settings: dict[str, Any]) -> dict[str, Any]:
    """The content a delivery snapshots: template fields, then the activity's own."""
    content: dict[str, Any] = {}
    template_id = settings.get("template_id")
    if template_id:
        template = ContentTemplate.objects.filter(workspace=workspace, pk=template_id, channel=channel).first()
        if template is None:
            raise TemplateProblem("template_id", f"no {channel} template {template_id} in this workspace")
        content.update(template.content or {})
    content.update({k: v for k, v in (settings.get("content") or {}).items() if v not in (None, "")})
    # A visual template's block document was compiled into its HTML when it was saved (or
    # posted): a delivery snapshots what is sent, not the editor's document.
    content.pop("blocks", None)
    if channel == "email":
        config = ChannelConfig.objects.filter(workspace=workspace, channel="email").first()
        content.setdefault("from_email", (config and config.from_email) or workspace.sender_email or "")
        content.setdefault("from_name", (config and config.from_name) or workspace.sender_name or workspace.name)
        content.setdefault("reply_to", (config and config.reply_to) or workspace.reply_to_email or "")
    if channel == "direct_mail":
        for key, value in DIRECT_MAIL_DEFAULTS.items():
            content.setdefault(key, value)
    return content


def model_names(schema: Schema, target: Entity | None, profile: Entity | None,
                enrichment: set[str] | None = None) -> dict[str, set[str] | None]:
    names: dict[str, set[str] | None] = {"enrichment": enrichment}
    if profile is not None:
        names["profile"] = set(schema.attributes[profile.pk])
    if target is not None:
        names["target"] = set(schema.attributes[target.pk])
    return names


def problems(channel: str, content: dict[str, Any], names: dict[str, set[str] | None] | None = None,
             require: bool = True) -> list[TemplateProblem]:
    found = []
    if require:
        for field in REQUIRED.get(channel, ()):
            if not str(content.get(field) or "").strip():
                found.append(TemplateProblem(field, "is required"))
    if channel == "email" and require and not content.get("from_email"):
        found.append(TemplateProblem("from_email", "no sender address: set one here, on the email channel "
                                                   "configuration or in the workspace settings"))
    found += header_problems(channel, content)
    if channel == "push":
        found += push_problems(content)
    if channel == "email" and content.get("blocks") not in (None, ""):
        found += blocks.validate(content["blocks"])
    return found + check_content(channel, content, names)


PUSH_DATA_MAX = 3000  # bytes of JSON: FCM's whole message is 4 KB, APNs' payload 4 KB
PUSH_TTL_MAX = 28 * 24 * 3600
PUSH_RESERVED_DATA = ("from", "notification", "message_type", "aps")
PUSH_OVERRIDE_FIELDS = ("title", "text", "url", "image_url")
COLLAPSE_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def push_problems(content: dict[str, Any]) -> list[TemplateProblem]:
    """A push message's non-template fields: ttl (seconds), collapse_key (a header value on
    APNs, a Topic on Web Push), data (a flat JSON object the app receives), overrides per
    platform (web / android / ios: title, text, url, image_url), and one-line links."""
    import json  # noqa: PLC0415

    found = []
    ttl = content.get("ttl")
    if ttl not in (None, ""):
        try:
            seconds = int(str(ttl).strip())
        except ValueError:
            seconds = -1
        if not 0 <= seconds <= PUSH_TTL_MAX:
            found.append(TemplateProblem("ttl", f"whole seconds from 0 to {PUSH_TTL_MAX} (28 days)"))
    key = content.get("collapse_key")
    if key not in (None, "") and not (isinstance(key, str) and COLLAPSE_KEY.match(key)):
        found.append(TemplateProblem("collapse_key", "1 to 64 letters, digits, . _ -"))
    for field in ("url", "image_url"):
        value = content.get(field)
        # spaces inside {{ ... }} / {% ... %} are the template's, not the link's
        bare = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", value) if isinstance(value, str) else ""
        if isinstance(value, str) and (LINE_BREAKING.search(value) or re.search(r"\s", bare.strip())):
            found.append(TemplateProblem(field, "one link, without spaces or line breaks"))
    data = content.get("data")
    if data not in (None, ""):
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError:
                data = None
        if not isinstance(data, dict) or not all(
                isinstance(v, str | int | float | bool) and not isinstance(v, dict) for v in data.values()):
            found.append(TemplateProblem("data", "a flat JSON object: names to text, numbers or true/false"))
        elif any(not str(k).strip() for k in data):
            found.append(TemplateProblem("data", "every value needs a name"))
        elif any(k in PUSH_RESERVED_DATA or k.startswith(("google.", "gcm.")) for k in data):
            found.append(TemplateProblem("data", f"these names are reserved by FCM / APNs: "
                                                 f"{', '.join(PUSH_RESERVED_DATA)}, google.*, gcm.*"))
        elif len(json.dumps(data)) > PUSH_DATA_MAX:
            found.append(TemplateProblem("data", f"at most {PUSH_DATA_MAX} bytes of JSON"))
    overrides = content.get("overrides")
    if overrides not in (None, ""):
        if not isinstance(overrides, dict) or set(overrides) - {"web", "android", "ios"} or not all(
                isinstance(o, dict) and not set(o) - set(PUSH_OVERRIDE_FIELDS)
                and all(isinstance(v, str) and not LINE_BREAKING.search(v) for v in o.values())
                for o in overrides.values()):
            found.append(TemplateProblem("overrides", "an object per platform (web, android, ios) of one-line "
                                                      f"texts: {', '.join(PUSH_OVERRIDE_FIELDS)}"))
    return found
