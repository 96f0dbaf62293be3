"""The workspace's SMS configuration (ChannelConfig with channel "sms"): provider Twilio or
Vonage, the account id in options and its secret (auth token / API secret) encrypted like
the SMTP password, the sender (a number, a Twilio messaging service, or an alphanumeric
sender id), a base URL (on-premise gateways; tests point it at loopback), the price per
segment, the segment limit, the default region for national numbers, the status callback
URL (empty: our receipt endpoint, `status_webhook`); throughput (rate_per_second) is the
existing throttle's. A test SMS goes through it.

Signed callbacks: Twilio signs with the auth token; Vonage with its signature secret
(`signing_secret`, write-only and encrypted like the secret) and the account's method
(`signature_method`). The confirmations of inbound STOP/START/HELP are `reply_stop`,
`reply_start`, `reply_help` (empty: sms_replies.DEFAULTS)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.tenants.services import audit_record

from . import outbound, phones, selectors, smstext
from .configuration import _save
from .models import ChannelConfig
from .proof_limits import proof_allow

BACKENDS = ("twilio", "vonage")
SMS_OPTIONS = ("account", "sender_kind", "sender", "base_url", "timeout", "price_per_segment", "max_segments",
               "default_region", "status_callback", "signature_method", "reply_stop", "reply_start", "reply_help")
REPLY_OPTIONS = ("reply_stop", "reply_start", "reply_help")
REPLY_MAX = 320  # characters of a keyword's confirmation reply (two GSM-7 segments)
SENDER_KINDS = ("number", "messaging_service", "alphanumeric")
SMS_FIELDS = ("rate_per_second", "window_hours", "max_attempts", "chunk_size", "parallel_tasks")
TWILIO_ACCOUNT = re.compile(r"^AC[0-9a-f]{32}$")
TWILIO_SERVICE = re.compile(r"^MG[0-9a-f]{32}$")
VONAGE_KEY = re.compile(r"^[0-9a-zA-Z]{6,32}$")
# GSM 03.38 letters, digits and space, at most 11, not only digits (then it is a number)
ALPHANUMERIC = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
TEST_TIMEOUT = 10.0  # seconds: a test send answers the person waiting on the page
TEST_TEXT = "Test SMS from Orchestrate ({name}): the SMS configuration works."


def _url(name: str, value: Any, errors: dict[str, str]) -> str:
    value = str(value or "").strip()
    if not value:
        return ""
    if any(c in value for c in "\r\n\x00 "):
        errors[name] = "a URL without spaces or line breaks"
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        errors[name] = "an http(s) URL"
        return ""
    if name == "base_url":
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            errors[name] = "the port is a number from 1 to 65535"
            return ""
        problem = outbound.url_problem("sms", parts.hostname, port)
        if problem:
            errors[name] = problem
            return ""
    return value.rstrip("/") if name == "base_url" else value


def _number(name: str, value: Any, low: float, high: float, errors: dict[str, str], integer: bool = False):
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        errors[name] = "a number"
        return None
    try:
        number = int(value) if integer else float(value)
    except (TypeError, ValueError):
        errors[name] = "a whole number" if integer else "a number"
        return None
    if not low <= number <= high:
        errors[name] = f"from {low:g} to {high:g}"
        return None
    return number


def check_options(backend: str, options: Any) -> dict[str, Any]:
    """The SMS options, cleaned; a ValidationError naming each wrong field."""
    if not isinstance(options, dict):
        raise ValidationError({"options": "options is an object"})
    errors: dict[str, str] = {}
    unknown = sorted(set(options) - set(SMS_OPTIONS))
    if unknown:
        errors["options"] = f"unknown SMS option(s): {', '.join(unknown)} (known: {', '.join(SMS_OPTIONS)})"
    for name in SMS_OPTIONS:
        if name in options and options[name] is not None and not isinstance(options[name], str | int | float):
            errors[name] = "text or a number"
    if errors:
        raise ValidationError(errors)
    account = str(options.get("account") or "").strip()
    if backend == "twilio" and not TWILIO_ACCOUNT.match(account):
        errors["account"] = "the Twilio account SID: AC followed by 32 hex digits"
    elif backend == "vonage" and not VONAGE_KEY.match(account):
        errors["account"] = "the Vonage API key: 6 to 32 letters and digits"
    kind = str(options.get("sender_kind") or "number").strip()
    sender = str(options.get("sender") or "").strip()
    if kind not in SENDER_KINDS:
        errors["sender_kind"] = f"one of {', '.join(SENDER_KINDS)}"
    elif any(c in sender for c in "\r\n\x00"):
        errors["sender"] = "the sender holds a line break"
    elif not sender:
        errors["sender"] = "the sender is required: a number, a messaging service or an alphanumeric sender id"
    elif kind == "number":
        number, reason = phones.normalize(sender)
        if reason:
            errors["sender"] = f"{sender!r} is not a phone number in international form (+ and country code)"
        sender = number or sender
    elif kind == "messaging_service":
        if backend != "twilio":
            errors["sender_kind"] = "Vonage has no messaging services: give a number or an alphanumeric sender id"
        elif not TWILIO_SERVICE.match(sender):
            errors["sender"] = "a Twilio messaging service SID: MG followed by 32 hex digits"
    elif not ALPHANUMERIC.match(sender):
        errors["sender"] = "an alphanumeric sender id is 1 to 11 letters, digits or spaces, with a letter"
    region = str(options.get("default_region") or "").strip().upper()
    if region and phones.region_of(region) is None:
        errors["default_region"] = f"{region!r} is not a country code (ISO 3166 alpha-2, e.g. GB, US, DE)"
    cleaned = {
        "account": account, "sender_kind": kind, "sender": sender,
        "base_url": _url("base_url", options.get("base_url"), errors),
        "status_callback": _url("status_callback", options.get("status_callback"), errors),
        "timeout": _number("timeout", options.get("timeout"), 1, 60, errors) or 15.0,
        "price_per_segment": _number("price_per_segment", options.get("price_per_segment"), 0, 100, errors),
        "max_segments": _number("max_segments", options.get("max_segments"), 1, smstext.MAX_SEGMENTS_CEILING,
                                errors, integer=True) or smstext.MAX_SEGMENTS_CEILING,
        "default_region": region,
        **_signing_options(backend, options, errors),
    }
    if errors:
        raise ValidationError(errors)
    return cleaned


def _signing_options(backend: str, options: dict[str, Any], errors: dict[str, str]) -> dict[str, Any]:
    """The Vonage signature method and the keyword replies (empty: the defaults)."""
    from .sms_signatures import VONAGE_METHODS  # noqa: PLC0415

    cleaned: dict[str, Any] = {}
    method = str(options.get("signature_method") or "").strip().lower()
    if method and backend != "vonage":
        errors["signature_method"] = "only Vonage signs with a chosen method (Twilio signs with the auth token)"
    elif method and method not in VONAGE_METHODS:
        errors["signature_method"] = f"one of {', '.join(VONAGE_METHODS)} (as in the Vonage account's settings)"
    elif method:
        cleaned["signature_method"] = method
    for name in REPLY_OPTIONS:
        text = str(options.get(name) or "").strip()
        if "\x00" in text:
            errors[name] = "the reply holds a NUL character"
        elif len(text) > REPLY_MAX:
            errors[name] = f"at most {REPLY_MAX} characters"
        elif text:
            cleaned[name] = text
    return cleaned


def sms_config_save(*, workspace, actor, backend: str, options: dict[str, Any], secret: str | None = None,
                    clear_secret: bool = False, signing_secret: str | None = None, clear_signing_secret: bool = False,
                    ip_address: str | None = None, **fields: Any) -> ChannelConfig:
    """Create or update the workspace's SMS configuration. `secret` (Twilio auth token,
    Vonage API secret) None or "" keeps the stored one; clear_secret removes it. Likewise
    `signing_secret` (Vonage's signature secret of signed webhooks), write-only."""
    if backend not in BACKENDS:
        raise ValidationError({"backend": "twilio or vonage"})
    unknown = set(fields) - set(SMS_FIELDS)
    if unknown:
        raise ValidationError({"detail": f"unknown field(s): {', '.join(sorted(unknown))}"})
    if secret is not None and any(c in secret for c in "\r\n\x00"):
        raise ValidationError({"secret": "the secret holds a line break"})
    if signing_secret is not None and any(c in signing_secret for c in "\r\n\x00"):
        raise ValidationError({"signing_secret": "the signature secret holds a line break"})
    if signing_secret is not None and len(signing_secret) > 200:
        raise ValidationError({"signing_secret": "at most 200 characters"})
    options = check_options(backend, options or {})
    with transaction.atomic():
        config = _save(workspace, actor, "sms", backend, options, secret, clear_secret, ip_address, fields)
        if clear_signing_secret or signing_secret:
            config.signing_secret = "" if clear_signing_secret else signing_secret
            config.save(update_fields=["signing_secret_encrypted", "updated_at"])
            # The audit log says the signature secret changed, never what it is.
            audit_record(workspace=workspace, actor=actor, verb="sms configuration saved", target=config,
                         data={"changed": ["signing_secret"]}, ip_address=ip_address)
        return config


def status_webhook(workspace, config) -> str:
    """The delivery receipt URL to paste into the provider's console ("" before a provider is saved)."""
    from .sms_receipts import status_url  # noqa: PLC0415

    if config is None or config.backend not in BACKENDS:
        return ""
    return status_url(workspace, config, config.backend)


def sms_test_send(*, workspace, actor, phone: str) -> str:
    """One SMS through the saved configuration. Returns what was used; raises ValidationError
    {"phone": ...} for a wrong number or with the provider's answer when it fails, and
    ProofRateLimited beyond the budget of proof and test messages."""
    from .providers import Outgoing, Permanent, Retryable  # noqa: PLC0415
    from .providers.sms import PROVIDERS  # noqa: PLC0415

    config = selectors.channel_config(workspace=workspace, channel="sms")
    if config is None:
        raise ValidationError({"phone": "save an SMS configuration first"})
    number, reason = phones.normalize(phone, config.options.get("default_region"))
    if reason:
        raise ValidationError({"phone": f"{phone!r}: {phones.REASONS[reason]}"})
    proof_allow(workspace=workspace, actor=actor)
    config.options = {**config.options, "timeout": min(float(config.options.get("timeout") or 15), TEST_TIMEOUT),
                      "status_callback": ""}
    try:
        provider = PROVIDERS[config.backend](None, config)
        provider.send(Outgoing(id=0, address=number, message_id="", context={},
                               fields={"text": TEST_TEXT.format(name=workspace.name)[:300]}))
    except (Permanent, Retryable) as exc:
        raise ValidationError({"phone": f"the provider answered {exc.code}: {exc.text}"}) from exc
    except ValueError as exc:  # the secret cannot be decrypted
        raise ValidationError({"phone": str(exc)}) from exc
    return f"{config.backend} from {config.options.get('sender')} to {number}"
