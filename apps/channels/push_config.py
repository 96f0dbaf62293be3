"""A workspace's push configuration: one ChannelConfig (channel "push") for all three
services. Its non-secret options are shown back in full; its secrets (the VAPID private
key, the FCM service account, the APNs .p8 key) are kept together as one JSON object in
the encrypted secret, and shown only as "set" / "not set".

Web Push keys are generated here (VAPID, RFC 8292): the public key is what a website's
script hands the browser when it subscribes. Every URL the platform will call (the FCM
and APNs base URLs, the service account's token_uri) is checked like an SMTP host: https
(http only with PUSH_WEB_ALLOW_HTTP), and never a private address unless the operator
allows it (CHANNEL_SMTP_ALLOW_PRIVATE_HOSTS), and a provider's own host or one listed in
PUSH_BASE_URL_HOSTS (apps/channels/outbound.py)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404

from apps.tenants.services import audit_record

from . import outbound
from .models import ChannelConfig

FCM_BASE_URL = "https://fcm.googleapis.com"
APNS_BASE_URL = "https://api.push.apple.com"
APNS_SANDBOX_URL = "https://api.sandbox.push.apple.com"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
OPTION_NAMES = ("vapid_subject", "fcm_base_url", "apns_base_url", "apns_key_id", "apns_team_id", "apns_topic",
                "web_origins")
WEB_ORIGINS_MAX = 20
# Browsers treat these as secure contexts (service workers and push work over http there).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
KEY_ID = re.compile(r"^[A-Z0-9]{10}$")  # Apple's key and team ids
TOPIC = re.compile(r"^[A-Za-z0-9.\-_]{1,200}$")
HOST_NAME = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def config_of(workspace) -> ChannelConfig | None:
    return ChannelConfig.objects.filter(workspace=workspace, channel="push").first()


def secrets_of(config: ChannelConfig | None) -> dict[str, Any]:
    if config is None or not config.secret_encrypted:
        return {}
    return json.loads(config.secret)


def _url(name: str, value: Any) -> str:
    text = str(value or "").strip().rstrip("/")
    parts = urlsplit(text)
    allowed = ("https", "http") if settings.PUSH_WEB_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed or not parts.hostname or parts.username or parts.password or \
            any(c in text for c in "\r\n\t "):
        raise ValidationError({name: "an https URL (scheme and host, e.g. https://fcm.googleapis.com)"})
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValidationError({name: "the port is a number from 1 to 65535"}) from None
    problem = outbound.url_problem("push", parts.hostname, port)
    if problem:
        raise ValidationError({name: problem})
    return text


def _clean_options(options: Any) -> dict[str, Any]:
    if not isinstance(options, dict):
        raise ValidationError({"options": "options is an object"})
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise ValidationError({"options": f"unknown push option(s): {', '.join(unknown)} "
                                          f"(known: {', '.join(OPTION_NAMES)})"})
    cleaned: dict[str, Any] = {}
    subject = str(options.get("vapid_subject") or "").strip()
    if subject and not (re.fullmatch(r"mailto:[^\s@]+@[^\s@]+\.[^\s@]+", subject)
                        or re.fullmatch(r"https://[^\s]+", subject)):
        raise ValidationError({"vapid_subject": "a mailto: address or an https URL the push services may contact"})
    cleaned["vapid_subject"] = subject
    for name in ("fcm_base_url", "apns_base_url"):
        if options.get(name):
            cleaned[name] = _url(name, options[name])
    for name in ("apns_key_id", "apns_team_id"):
        value = str(options.get(name) or "").strip()
        if value and not KEY_ID.match(value):
            raise ValidationError({name: "Apple's 10-character id (capital letters and digits)"})
        cleaned[name] = value
    topic = str(options.get("apns_topic") or "").strip()
    if topic and not TOPIC.match(topic):
        raise ValidationError({"apns_topic": "the app's bundle id (letters, digits, . - _)"})
    cleaned["apns_topic"] = topic
    cleaned["web_origins"] = clean_origins(options.get("web_origins") or [])
    return cleaned


def clean_origins(value: Any) -> list[str]:
    """The website origins allowed to register browsers: scheme://host[:port], https (http
    only on loopback, or everywhere with PUSH_WEB_ALLOW_HTTP), lower case, no path."""
    if isinstance(value, str):
        value = [line for line in value.replace(",", "\n").splitlines()]
    if not isinstance(value, list):
        raise ValidationError({"web_origins": "a list of origins such as https://www.example.com"})
    origins: list[str] = []
    for raw in value:
        text = str(raw or "").strip()
        if not text:
            continue
        if len(origins) >= WEB_ORIGINS_MAX:
            raise ValidationError({"web_origins": f"at most {WEB_ORIGINS_MAX} origins"})
        origin = origin_of(text)
        if origin is None:
            raise ValidationError({"web_origins": f"{text[:100]!r} is not an origin: scheme and host only, e.g. "
                                                  "https://www.example.com (https; http only for localhost)"})
        if origin not in origins:
            origins.append(origin)
    return origins


def origin_of(text: str) -> str | None:
    """The normalized origin of `text`, or None when it is not one we accept."""
    if len(text) > 300 or any(c in text for c in "\r\n\t \\") or not text.isascii():
        return None
    parts = urlsplit(text.rstrip("/"))
    try:
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.username or parts.password or parts.path or parts.query or parts.fragment or not host:
        return None
    if not HOST_NAME.match(host) and f"[{host}]" not in LOOPBACK_HOSTS:
        return None
    netloc = f"[{host}]" if ":" in host else host
    loopback = netloc in LOOPBACK_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and (loopback or settings.PUSH_WEB_ALLOW_HTTP)):
        return None
    if port is not None and port != (443 if parts.scheme == "https" else 80):
        netloc += f":{port}"
    return f"{parts.scheme}://{netloc}"


def _clean_service_account(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValidationError({"fcm_service_account": "the service account's JSON key file"}) from None
    if not isinstance(value, dict) or value.get("type") != "service_account":
        raise ValidationError({"fcm_service_account": "a JSON key file of type service_account"})
    for name in ("project_id", "client_email", "private_key"):
        if not isinstance(value.get(name), str) or not value[name].strip():
            raise ValidationError({f"fcm_service_account.{name}": "required in the service account's key file"})
    if not re.fullmatch(r"[a-z][a-z0-9\-]{4,61}[a-z0-9]", value["project_id"]):
        raise ValidationError({"fcm_service_account.project_id": "not a Firebase project id"})
    try:
        serialization.load_pem_private_key(value["private_key"].encode(), password=None)
    except (ValueError, TypeError):
        raise ValidationError({"fcm_service_account.private_key": "not a PEM private key"}) from None
    value["token_uri"] = _url("fcm_service_account.token_uri", value.get("token_uri") or GOOGLE_TOKEN_URI)
    keep = ("type", "project_id", "private_key_id", "private_key", "client_email", "client_id", "token_uri")
    return {k: value[k] for k in keep if k in value}


def _clean_apns_key(value: Any) -> str:
    try:
        key = serialization.load_pem_private_key(str(value or "").encode(), password=None)
    except (ValueError, TypeError):
        raise ValidationError({"apns_key": "the .p8 file's text (-----BEGIN PRIVATE KEY-----...)"}) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValidationError({"apns_key": "an APNs auth key is a P-256 (ES256) key"})
    return str(value).strip()


def vapid_generate() -> tuple[str, str]:
    """(private key PEM, public key as the browser wants it: base64url of the uncompressed point)."""
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return pem, b64url(public)


def push_config_save(*, workspace, actor, options: Any = None, fcm_service_account: Any = None,
                     apns_key: Any = None, clear: list[str] | None = None, generate_vapid: bool = False,
                     ip_address: str | None = None) -> ChannelConfig:
    """Create or update the workspace's push configuration. A secret left out keeps the
    stored one; `clear` names secrets to remove (vapid, fcm_service_account, apns_key);
    generate_vapid makes a new VAPID key pair (browsers subscribed with the old public key
    must subscribe again)."""
    cleaned = _clean_options(options or {})
    stored_secrets: dict[str, Any] = {}
    for name in clear or []:
        if name not in ("vapid", "fcm_service_account", "apns_key"):
            raise ValidationError({"clear": "vapid, fcm_service_account or apns_key"})
    new_sa = _clean_service_account(fcm_service_account) if fcm_service_account else None
    new_apns = _clean_apns_key(apns_key) if apns_key else None
    with transaction.atomic():
        config = ChannelConfig.objects.select_for_update().filter(workspace=workspace, channel="push").first() \
            or ChannelConfig(workspace=workspace, channel="push")
        stored_secrets = secrets_of(config)
        public = (config.options or {}).get("vapid_public_key", "")
        changed = sorted(k for k in cleaned if (config.options or {}).get(k) != cleaned[k])
        for name in clear or []:
            stored_secrets.pop("vapid_private_key" if name == "vapid" else name, None)
            public = "" if name == "vapid" else public
            changed.append(name)
        if generate_vapid:
            stored_secrets["vapid_private_key"], public = vapid_generate()
            changed.append("vapid")
        if new_sa is not None:
            stored_secrets["fcm_service_account"] = new_sa
            changed.append("fcm_service_account")
        if new_apns is not None:
            stored_secrets["apns_key"] = new_apns
            changed.append("apns_key")
        config.options = {**cleaned, "vapid_public_key": public}
        config.secret_encrypted = ""
        if stored_secrets:
            config.secret = json.dumps(stored_secrets)
        config.save()
        audit_record(workspace=workspace, actor=actor, verb="push configuration saved", target=config,
                     data={"changed": sorted(set(changed))}, ip_address=ip_address)
    return config


def push_config_view(config: ChannelConfig | None) -> dict[str, Any]:
    """What a screen or the API shows: options in full, secrets only as set or not."""
    stored = secrets_of(config)
    options = dict(config.options) if config is not None else {}
    sa = stored.get("fcm_service_account") or {}
    return {
        "options": {name: options.get(name, [] if name == "web_origins" else "") for name in OPTION_NAMES},
        "vapid_public_key": options.get("vapid_public_key", ""),
        "web_push": bool(stored.get("vapid_private_key")),
        "fcm": bool(sa),
        "fcm_project_id": sa.get("project_id", ""),
        "fcm_client_email": sa.get("client_email", ""),
        "apns": bool(stored.get("apns_key") and options.get("apns_key_id") and options.get("apns_team_id")),
    }


def push_test_send(*, workspace, actor, device_id: Any) -> str:
    """One test notification to one active device of the workspace, through the saved
    configuration. Returns what it went through; ValidationError {"device": ...} with the
    service's answer when it fails; ProofRateLimited beyond the budget of test messages."""
    import uuid  # noqa: PLC0415
    from types import SimpleNamespace  # noqa: PLC0415

    from .devices import access_push_subscription  # noqa: PLC0415
    from .proof_limits import proof_allow  # noqa: PLC0415
    from .providers import Outgoing, Permanent, ProviderDown, Retryable  # noqa: PLC0415
    from .providers.push import PushProvider  # noqa: PLC0415

    try:
        device = access_push_subscription(actor, workspace, device_id)
    except Http404:
        raise ValidationError({"device": "no such device in this workspace"}) from None
    if not device.active:
        raise ValidationError({"device": "the device is deactivated: register it again first"})
    proof_allow(workspace=workspace, actor=actor)
    config = config_of(workspace)
    # The provider reads a delivery's content and workspace only: a test has no delivery.
    delivery = SimpleNamespace(content={"ttl": 300}, workspace_id=workspace.pk)
    provider = PushProvider(delivery, config)
    try:
        via = provider.send(Outgoing(id=0, address=str(device.pk), message_id=f"test-{uuid.uuid4().hex}",
                                     context={}, fields={"title": f"Test from {workspace.name}",
                                                         "text": "Push works for this device.", "url": ""}))
    except (Permanent, Retryable, ProviderDown) as exc:
        raise ValidationError({"device": f"the push service answered {exc.code}: {exc.text}"}) from exc
    except ValueError as exc:  # the secret cannot be decrypted
        raise ValidationError({"device": str(exc)}) from exc
    finally:
        provider.close()
    return f"{device.get_platform_display()} device {device.pk} of profile {device.profile_key} ({via[:80]})"
