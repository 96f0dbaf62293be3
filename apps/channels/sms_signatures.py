"""The SMS providers' own signatures of what they post to us (delivery receipts and inbound
messages), checked with their SDKs against the workspace's SMS configuration:

- Twilio: `X-Twilio-Signature`, an HMAC of the public URL Twilio called and the posted
  fields under the account's auth token (ChannelConfig.secret), checked by the SDK's
  `twilio.request_validator.RequestValidator`. The public URL is the one we gave Twilio
  (the configured callback, else SITE_URL's) or, behind a proxy that keeps the Host, the
  request's own.
- Vonage: signed webhooks, a `sig` parameter over every other parameter and a `timestamp`
  under the signature secret (ChannelConfig.signing_secret), with the method of the
  account's settings (option `signature_method`: md5hash, md5, sha1, sha256, sha512).
  The HMAC methods are checked by the SDK's `vonage_http_client.Auth.check_signature`;
  md5hash (a plain MD5 of the parameters and the secret) is not in the v4 SDK and is
  computed here as Vonage documents it. A timestamp older than MAX_AGE is refused (a
  replayed receipt), as is one from the future beyond it.

Every check is constant-time; nothing here raises on hostile input."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

VONAGE_METHODS = ("md5hash", "md5", "sha1", "sha256", "sha512")
DEFAULT_VONAGE_METHOD = "md5hash"  # Vonage's default for new accounts' signed webhooks
MAX_AGE = 300  # seconds: a Vonage timestamp older (or newer) than this is refused
TWILIO_HEADER = "HTTP_X_TWILIO_SIGNATURE"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    problem: str = ""


def public_urls(request: HttpRequest, base: str = "") -> list[str]:
    """The URLs a provider may have signed for this request: `base` (the public URL we gave
    it, without its query) with the request's query, SITE_URL's, and the request's own."""
    query = request.META.get("QUERY_STRING", "")
    path = request.path
    urls = []
    if base:
        urls.append(base.split("?", 1)[0] + (f"?{query}" if query else ""))
    urls.append(settings.SITE_URL.rstrip("/") + path + (f"?{query}" if query else ""))
    try:
        urls.append(request.build_absolute_uri())
    except Exception:  # noqa: BLE001 - a Host outside ALLOWED_HOSTS: that URL is not a candidate
        pass
    return list(dict.fromkeys(urls))


def twilio_verdict(request: HttpRequest, token: str, params, base: str = "") -> Verdict:
    """`params`: the posted fields (a QueryDict). Twilio's own validator decides."""
    from twilio.request_validator import RequestValidator  # noqa: PLC0415 - only where Twilio is used

    signature = request.META.get(TWILIO_HEADER, "")
    if not signature:
        return Verdict(False, "the X-Twilio-Signature header is missing")
    if not token:
        return Verdict(False, "no Twilio auth token is stored to check the signature with")
    validator = RequestValidator(token)
    if any(validator.validate(url, params, signature) for url in public_urls(request, base)):
        return Verdict(True)
    return Verdict(False, "the X-Twilio-Signature does not match")


def vonage_signature(params: Mapping[str, str], secret: str, method: str) -> str:
    """The `sig` of `params` (without sig), as Vonage computes it."""
    if method == "md5hash":
        hasher = hashlib.md5(usedforsecurity=False)
        for key in sorted(params):
            value = str(params[key]).replace("&", "_").replace("=", "_")
            hasher.update(f"&{key}={value}".encode())
        hasher.update(secret.encode())
        return hasher.hexdigest()
    from vonage_http_client import Auth  # noqa: PLC0415 - only where Vonage is used

    return Auth(api_key="orchestrate", signature_secret=secret, signature_method=method).sign_params(dict(params))


def vonage_verdict(params: Mapping[str, str], secret: str, method: str, now: float | None = None) -> Verdict:
    """`params`: every parameter Vonage sent (strings), `sig` included."""
    signature = str(params.get("sig") or "")
    if not signature:
        return Verdict(False, "the request is not signed (no sig parameter)")
    if not secret:
        return Verdict(False, "no Vonage signature secret is stored to check the signature with")
    if method not in VONAGE_METHODS:
        return Verdict(False, f"unknown signature method {method!r}")
    stamp = str(params.get("timestamp") or "")
    if not stamp.isdigit() or len(stamp) > 12:
        return Verdict(False, "the signed request has no timestamp")
    if abs((now if now is not None else time.time()) - int(stamp)) > MAX_AGE:
        return Verdict(False, "the signature's timestamp is more than 5 minutes old (or in the future)")
    unsigned = {k: str(v) for k, v in params.items() if k != "sig"}
    if method == "md5hash":
        ok = hmac.compare_digest(signature.lower().encode(), vonage_signature(unsigned, secret, method).encode())
    else:
        from vonage_http_client import Auth  # noqa: PLC0415

        auth = Auth(api_key="orchestrate", signature_secret=secret, signature_method=method)
        ok = auth.check_signature({**unsigned, "sig": signature})
    return Verdict(True) if ok else Verdict(False, "the Vonage signature does not match")


def method_of(config) -> str:
    return str((config.options or {}).get("signature_method") or DEFAULT_VONAGE_METHOD)


def signing_secret_of(config) -> str:
    try:
        return config.signing_secret
    except ValueError:  # stored under another key
        return ""


def secret_of(config) -> str:
    try:
        return config.secret if config.secret_encrypted else ""
    except ValueError:
        return ""


def verdict(request: HttpRequest, config, params, base: str = "") -> Verdict:
    """The signature of a request the workspace's configured provider posted."""
    if config.backend == "twilio":
        return twilio_verdict(request, secret_of(config), params, base)
    if config.backend == "vonage":
        return vonage_verdict(params, signing_secret_of(config), method_of(config))
    return Verdict(False, "no SMS provider is configured")
