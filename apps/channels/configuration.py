"""Writes around templates and the per-workspace channel configuration: saving a template
with its problems (field, line, message), deleting one no campaign uses, saving the email
configuration (the secret is write-only and stored encrypted) and a test email through it."""

from __future__ import annotations

import importlib.util
import json
import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction

from apps.core import net
from apps.tenants.services import audit_record

from . import blocks, selectors, services
from .models import ChannelConfig, ContentTemplate
from .proof_limits import proof_allow
from .senders import sender_problem

CONTENT_FIELDS = {
    "email": ("from_name", "from_email", "reply_to", "subject", "preheader", "html", "text", "blocks"),
    "direct_mail": ("html", "css", "page_size", "return_address", "address_position", "margins"),
    "sms": ("text",),
    "push": ("title", "text", "url", "image_url", "data", "ttl", "collapse_key", "overrides"),
}
# Push content fields that are objects, not text: checked by content.push_problems.
OBJECT_FIELDS = {"push": ("data", "overrides"), "email": ("blocks",)}
PAGE_SIZES = ("A4", "A5", "letter", "legal")
# Direct mail: where the window envelope's address field is, and the letter's margins.
MILLIMETRE_FIELDS = {
    "address_position": ("left_mm", "top_mm", "width_mm", "height_mm", "padding_mm"),
    "margins": ("top_mm", "right_mm", "bottom_mm", "left_mm"),
}
SMTP_OPTIONS = ("host", "port", "username", "use_tls", "use_ssl", "timeout")
CONFIG_FIELDS = ("rate_per_second", "window_hours", "max_attempts", "chunk_size", "parallel_tasks", "from_email",
                 "from_name", "reply_to", "tracking_domain")
# Option names that look like credentials: they belong in the encrypted secret, never in
# options (which are shown back in full).
SECRET_LOOKING = re.compile(r"(key|secret|password|passwd|token)", re.IGNORECASE)
HOST_SHAPE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}"
                        r"[A-Za-z0-9])?)*$|^\[?[0-9a-fA-F:.]+\]?$")
URL_OPTION = re.compile(r"(url|endpoint|host)$", re.IGNORECASE)
TEXT_FIELDS = ("from_email", "from_name", "reply_to", "tracking_domain")
TEST_SEND_TIMEOUT = 10.0  # seconds: a test send answers the person waiting on the page


def problems_error(problems) -> ValidationError:
    """A ValidationError the API answers as 400 {"problems": [{field, line, message}]}."""
    error = ValidationError({"content": [str(p) for p in problems]})
    error.problems = [p.as_dict() for p in problems]
    return error


def clean_content(channel: str, content: Any) -> dict[str, Any]:
    if not isinstance(content, dict):
        raise ValidationError({"content": "content is an object of fields"})
    allowed = CONTENT_FIELDS.get(channel, ())
    unknown = sorted(set(content) - set(allowed))
    if unknown:
        raise ValidationError({"content": f"unknown field(s) for {channel}: {', '.join(unknown)} "
                                          f"(a {channel} template has {', '.join(allowed)})"})
    cleaned: dict[str, Any] = {}
    for key, value in content.items():
        if value is None:
            continue
        if key in MILLIMETRE_FIELDS:
            if not isinstance(value, dict) or not all(
                    k in MILLIMETRE_FIELDS[key] and isinstance(v, int | float) and not isinstance(v, bool)
                    and 0 <= v <= 1000 for k, v in value.items()):
                raise ValidationError({"content": f"{key} is an object of millimetres: "
                                                  f"{', '.join(MILLIMETRE_FIELDS[key])} (0 to 1000)"})
        elif key in OBJECT_FIELDS.get(channel, ()) and isinstance(value, dict):
            pass
        elif not isinstance(value, str):
            raise ValidationError({"content": f"{key} must be text"})
        cleaned[key] = value
    if channel == "email" and "blocks" in cleaned:
        # A visual template: its HTML body is always the compiled document, never posted.
        try:
            cleaned["html"] = blocks.compile_blocks(cleaned["blocks"])
        except blocks.BlocksError as exc:
            raise problems_error(exc.problems) from None
        if isinstance(cleaned["blocks"], str):
            cleaned["blocks"] = json.loads(cleaned["blocks"])
    if channel == "direct_mail" and cleaned.get("page_size") and cleaned["page_size"] not in PAGE_SIZES:
        raise ValidationError({"content": f"page_size is one of {', '.join(PAGE_SIZES)}"})
    return cleaned


def template_write(*, workspace, actor, name: str, channel: str, content: dict[str, Any], entity_key: str = "",
                   template: ContentTemplate | None = None) -> ContentTemplate:
    """Create (template=None) or update a template. Refused with every problem of its
    content (field, line, message), or a taken name."""
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "give the template a name"})
    content = clean_content(channel, content)
    taken = selectors.template_list(workspace=workspace).filter(name=name)
    if template is not None:
        taken = taken.exclude(pk=template.pk)
    if taken.exists():
        raise ValidationError({"name": f"a template named {name!r} exists already"})
    problems = selectors.template_problems(workspace=workspace, channel=channel, content=content,
                                           entity_key=entity_key)
    if problems:
        raise problems_error(problems)
    try:
        with transaction.atomic():
            return services.template_save(workspace=workspace, actor=actor, name=name, channel=channel,
                                          content=content, entity_key=entity_key, template=template)
    except IntegrityError:  # saved at the same moment by someone else
        raise ValidationError({"name": f"a template named {name!r} exists already"}) from None


def template_delete(*, workspace, actor, template: ContentTemplate) -> None:
    """Refused while a campaign that is not archived uses it (its next run would fail)."""
    users = selectors.template_users(workspace=workspace, template=template)
    if users:
        raise ValidationError(f"{template.name} is used by {', '.join(users[:5])}: choose another template there "
                              "first.")
    template.delete()


def _check_options(backend: str, options: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(options, dict):
        raise ValidationError({"options": "options is an object"})
    errors: dict[str, str] = {}
    for name in options:
        if name != "use_tls" and name != "use_ssl" and SECRET_LOOKING.search(name):
            errors[name] = "looks like a credential: give it as the secret (stored encrypted), not as an option"
    if backend == "smtp":
        unknown = sorted(set(options) - set(SMTP_OPTIONS))
        if unknown:
            errors["options"] = f"unknown SMTP option(s): {', '.join(unknown)} (known: {', '.join(SMTP_OPTIONS)})"
        host = str(options.get("host") or "").strip()
        if not host:
            errors["host"] = "the SMTP server's host name is required"
        elif not HOST_SHAPE.match(host):
            errors["host"] = f"{host!r} is not a host name or an IP address"
        try:
            port = int(options.get("port") or 0)
        except (TypeError, ValueError):
            port = 0
        if not 1 <= port <= 65535:
            errors["port"] = "the port is a number from 1 to 65535 (587 for STARTTLS, 465 for SSL, 25)"
        if "host" not in errors and "port" not in errors:
            problem = _host_problem(host, port)
            if problem:
                errors["host"] = problem
        if options.get("use_tls") and options.get("use_ssl"):
            errors["use_ssl"] = "choose STARTTLS or SSL, not both"
        try:
            timeout = float(options.get("timeout") or 30)
        except (TypeError, ValueError):
            timeout = -1
        if not 1 <= timeout <= 300:
            errors["timeout"] = "the timeout is 1 to 300 seconds"
        if errors:
            raise ValidationError(errors)
        return {"host": host, "port": port, "username": str(options.get("username") or "").strip(),
                "use_tls": bool(options.get("use_tls")), "use_ssl": bool(options.get("use_ssl")),
                "timeout": timeout}
    esp = str(options.get("esp") or "").strip().lower()
    if not esp:
        errors["esp"] = "name the email service (e.g. mailgun, sendgrid, postmark, amazon_ses)"
    elif not esp.isidentifier() or importlib.util.find_spec(f"anymail.backends.{esp}") is None:
        errors["esp"] = f"django-anymail has no email service named {esp!r}"
    if errors:
        raise ValidationError(errors)
    extra = {k: v for k, v in options.items() if k not in ("esp", *SMTP_OPTIONS)}
    for k, v in extra.items():
        if not isinstance(v, str | int | float | bool):
            raise ValidationError({k: "ESP options are text, numbers or true/false"})
        if isinstance(v, str) and URL_OPTION.search(k):
            # An ESP's API address (api_url...): the platform would call it, so the same
            # rule as for SMTP hosts applies.
            parts = urlsplit(v.strip())
            if parts.scheme not in ("https", "http") or not parts.hostname:
                raise ValidationError({k: "an http(s) URL"})
            problem = _host_problem(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
            if problem:
                raise ValidationError({k: problem})
    return {"esp": esp, **extra}


def _host_problem(host: str, port: int) -> str:
    """Why the platform would not connect to this host ("" when it would)."""
    if net.private_hosts_allowed():
        return ""
    try:
        net.resolve_public(host, port)
    except net.HostRefused as exc:
        return str(exc)
    except OSError:
        return f"{host!r} does not resolve: give the server's public host name"
    return ""


def channel_config_save(*, workspace, actor, channel: str = "email", backend: str, options: dict[str, Any],
                        secret: str | None = None, clear_secret: bool = False, ip_address: str | None = None,
                        **fields: Any) -> ChannelConfig:
    """Create or update the workspace's configuration of a channel. `secret` None or ""
    keeps the stored one (forms leave password fields empty); clear_secret removes it."""
    if channel != "email":
        raise ValidationError({"channel": "only email has a configuration in this version"})
    if backend not in ("smtp", "anymail"):
        raise ValidationError({"backend": "smtp or anymail"})
    unknown = set(fields) - set(CONFIG_FIELDS)
    if unknown:
        raise ValidationError({"detail": f"unknown field(s): {', '.join(sorted(unknown))}"})
    options = _check_options(backend, options or {})
    with transaction.atomic():
        return _save(workspace, actor, channel, backend, options, secret, clear_secret, ip_address, fields)


def _save(workspace, actor, channel, backend, options, secret, clear_secret, ip_address, fields) -> ChannelConfig:
    config = ChannelConfig.objects.select_for_update().filter(workspace=workspace, channel=channel).first() \
        or ChannelConfig(workspace=workspace, channel=channel)
    changed = ["backend"] if config.backend != backend else []
    changed += ["options"] if config.options != options else []
    config.backend, config.options = backend, options
    for name, value in fields.items():
        if value is None and name in TEXT_FIELDS:
            value = ""
        elif value is None and name != "rate_per_second":
            continue  # a number left out keeps its value
        if getattr(config, name) != value:
            changed.append(name)
        setattr(config, name, value)
    if clear_secret:
        changed += ["secret"] if config.secret_encrypted else []
        config.secret_encrypted = ""
    elif secret:
        config.secret = secret
        changed.append("secret")
    config.full_clean(exclude=["workspace", "secret_encrypted"])
    config.save()
    # The audit log says a secret changed, never what it is.
    audit_record(workspace=workspace, actor=actor, verb=f"{channel} configuration saved", target=config,
                 data={"changed": sorted(set(changed))}, ip_address=ip_address)
    return config


def channel_config_test_send(*, workspace, actor, address: str, channel: str = "email") -> str:
    """One plain email through the workspace's configured connection (the platform's own
    when there is none). Returns what was used; raises ValidationError with the server's
    reply when it fails, ProofRateLimited beyond the budget of proof and test emails."""
    from .ledger import EMAIL_SHAPE  # noqa: PLC0415
    from .providers.email import connection_for  # noqa: PLC0415

    address = (address or "").strip()
    if not re.match(EMAIL_SHAPE, address):
        raise ValidationError({"address": f"not an email address: {address!r}"})
    proof_allow(workspace=workspace, actor=actor)
    config = selectors.channel_config(workspace=workspace, channel=channel)
    if config is not None and config.backend == "smtp":
        config.options = {**config.options, "timeout": min(float(config.options.get("timeout") or 30),
                                                            TEST_SEND_TIMEOUT)}
    sender = (config and config.from_email) or workspace.sender_email or settings.DEFAULT_FROM_EMAIL
    if config is None and sender_problem(workspace=workspace, from_email=sender, platform=True):
        # The platform's server sends only from verified domains: the test goes from its own.
        sender = settings.DEFAULT_FROM_EMAIL
    try:
        connection = connection_for(config)
        message = EmailMessage(
            subject=f"Test email from Orchestrate ({workspace.name})",
            body=f"This test was sent by {getattr(actor, 'email', 'someone')} to check the email configuration of "
                 f"{workspace.name}. It arrived, so the configuration works.\n",
            from_email=sender, to=[address], connection=connection)
        message.send(fail_silently=False)
    except Exception as exc:  # every failure is reported in words, none is retried
        raise ValidationError({"address": _reply(exc)}) from exc
    if config is None:
        return "the platform's default email settings"
    return f"{config.options.get('host')}:{config.options.get('port')}" if config.backend == "smtp" \
        else config.options.get("esp", "")


def _reply(exc: BaseException) -> str:
    from .providers.email import classify  # noqa: PLC0415

    problem = classify(exc)
    code, text = getattr(problem, "code", ""), getattr(problem, "text", str(problem))
    if code == "connection":
        return f"could not reach the server: {text}"
    if code == "host_refused":
        return text
    return f"the server answered {code}: {text}" if code and code[:1].isdigit() else f"sending failed: {text}"
