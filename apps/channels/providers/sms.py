"""SMS through the providers' own SDKs, configured per workspace (ChannelConfig with
channel "sms"): Twilio (`twilio`, the Messages API) and Vonage (`vonage`, the SMS API).
Each adapter takes a base URL option: the SDK's requests go there instead of the
provider's public host (on-premise gateways, and the loopback servers of the tests that
speak the providers' real HTTP APIs). Every request has a timeout; the SDKs' own retries
are off (a message is retried by the ledger, never twice by the SDK behind our back).

Idempotency: the ledger records each message's result before the next one is handed over,
and a message taken over after a crash goes again with the same reference (Vonage's
`client-ref` is the message id; Twilio has no client reference on the Messages API, so the
message id travels in the status callback URL, which receipts are matched by)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

import requests

from apps.core.net import HostRefused

from .. import outbound, smstext
from . import Outgoing, Permanent, ProviderDown, Retryable
from .gate import gate_session

DEFAULT_TIMEOUT = 15.0  # seconds per request: a provider slower than this is treated as down
TWILIO_HOST = "https://api.twilio.com"
FORBIDDEN = ("\r", "\n", "\x00")
# The Twilio SDK logs every request's headers at INFO: one line per message is noise at
# 20,000 messages, and the request is ours to log.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


def rebase(url: str, base_url: str) -> str:
    """`url` (the SDK's, on the provider's public host) on `base_url` instead."""
    if not base_url:
        return url
    base, parts = urlsplit(base_url), urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path, parts.query, parts.fragment))


def guarded_transport(session, base_url: str):
    """The SDK's requests session sends to the configured base URL (the SDKs build
    https://<provider host><path> themselves), only to a host allowed for SMS and over a
    connection to its checked address (apps/channels/outbound.py)."""
    return outbound.guard_session(session, "sms", rebase=(lambda url: rebase(url, base_url)) if base_url else None)


def refused(exc: HostRefused) -> ProviderDown:
    """A base URL the platform does not call: the delivery pauses (as in an outage) until the
    SMS settings are corrected, instead of failing every message."""
    return ProviderDown("host_refused", f"the SMS provider's host {exc}")


def settings_of(config) -> dict:
    options = dict(config.options or {}) if config is not None else {}
    return {"account": options.get("account") or "", "sender": options.get("sender") or "",
            "sender_kind": options.get("sender_kind") or "number", "base_url": options.get("base_url") or "",
            "timeout": float(options.get("timeout") or DEFAULT_TIMEOUT),
            "status_callback": options.get("status_callback") or "",
            "max_segments": options.get("max_segments"), "price_per_segment": options.get("price_per_segment")}


def _refuse_control(name: str, value: str) -> None:
    if any(c in value for c in FORBIDDEN):
        raise Permanent("header", f"{name} holds a line break or NUL")


class _Base:
    batch = False
    name = ""
    segments: int | None = None  # of the message checked last: the one being sent

    def __init__(self, delivery, config):
        if config is None or not config.pk:
            raise Permanent("config", "the workspace has no SMS configuration: choose Twilio or Vonage in its "
                                      "SMS settings")
        self.delivery, self.config = delivery, config
        self.opts = settings_of(config)
        self.secret = config.secret
        self.client = None
        if delivery is not None and not self.opts["status_callback"]:
            # Receipts of ledger messages come to our endpoint (apps/channels/sms_receipts.py).
            from ..sms_receipts import callback_base  # noqa: PLC0415

            self.opts["status_callback"] = callback_base(config.workspace, config)

    def open(self):
        if self.client is None:
            self.client = self._client()

    def close(self):
        self.client = None

    def check(self, item: Outgoing) -> smstext.SmsText:
        text = item.fields.get("text") or ""
        info = smstext.analyse(text)
        if not info.segments:
            raise Permanent("empty", "the message text is empty")
        problem = smstext.limit_problem(info, self.opts["max_segments"])
        if problem:
            raise Permanent("segments", problem)
        _refuse_control("to", item.address)
        _refuse_control("sender", self.opts["sender"])
        self.segments = info.segments  # recorded with the result (Message.segments)
        return info

    def callback_url(self, item: Outgoing) -> str:
        base = self.opts["status_callback"]
        if not base:
            return ""
        return base + ("&" if "?" in base else "?") + urlencode({"message": item.id})

    def send(self, item: Outgoing) -> str:
        self.check(item)
        if self.client is None:
            self.open()
        return self._send(item)

    def send_gated(self, item: Outgoing, gate: Callable[[], None]) -> str:
        """send(), calling `gate` (the sender's wait for the previous result to be recorded)
        right before the SDK's request leaves: the SDK builds it while that result commits."""
        self.check(item)
        if self.client is None:
            self.open()
        session = self._session()
        gate_session(session)
        session.gate = gate
        try:
            return self._send(item)
        finally:
            session.gate = None


class TwilioProvider(_Base):
    name = "twilio"

    def _client(self):
        from twilio.http.http_client import TwilioHttpClient  # noqa: PLC0415 - only where Twilio is used
        from twilio.rest import Client  # noqa: PLC0415

        http = TwilioHttpClient(timeout=self.opts["timeout"], max_retries=0)
        guarded_transport(http.session, self.opts["base_url"])
        return Client(self.opts["account"], self.secret, http_client=http)

    def _session(self):
        return self.client.http_client.session  # TwilioHttpClient's keep-alive session

    def _send(self, item: Outgoing) -> str:
        from twilio.base.exceptions import TwilioRestException  # noqa: PLC0415

        kwargs = {"to": item.address, "body": item.fields.get("text") or ""}
        if self.opts["sender_kind"] == "messaging_service":
            kwargs["messaging_service_sid"] = self.opts["sender"]
        else:
            kwargs["from_"] = self.opts["sender"]
        callback = self.callback_url(item)
        if callback:
            kwargs["status_callback"] = callback
        try:
            message = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            raise twilio_problem(exc) from exc
        except HostRefused as exc:
            raise refused(exc) from exc
        except requests.RequestException as exc:
            raise ProviderDown("connection", f"{type(exc).__name__}: {exc}") from exc
        return message.sid or ""


# Twilio error codes about the recipient (will not get better): invalid or unreachable
# To, landline, unsubscribed (STOP), blocked. https://www.twilio.com/docs/api/errors
TWILIO_RECIPIENT = {21211, 21214, 21217, 21407, 21408, 21610, 21612, 21614, 30003, 30005, 30006}


def twilio_problem(exc) -> Exception:
    status, code = int(exc.status or 0), int(exc.code or 0)
    text = f"{code or status}: {exc.msg}"[:500]
    if status in (401, 403) or status == 429 or status >= 500:
        return ProviderDown(str(code or status), text)  # credentials, rate or the provider itself: every message
    if code in TWILIO_RECIPIENT:
        return Permanent(str(code), text)
    return Permanent(str(code or status), text)


class VonageProvider(_Base):
    name = "vonage"

    def _client(self):
        from vonage import Auth, HttpClientOptions, Vonage  # noqa: PLC0415 - only where Vonage is used

        client = Vonage(Auth(api_key=self.opts["account"], api_secret=self.secret),
                        HttpClientOptions(timeout=max(1, round(self.opts["timeout"])), max_retries=0))
        session = client.http_client._session  # the SDK offers no transport hook: mount ours
        guarded_transport(session, self.opts["base_url"])
        return client

    def _session(self):
        return self.client.http_client._session  # as _client: the SDK's requests session

    def _send(self, item: Outgoing) -> str:
        from vonage_http_client.errors import HttpRequestError  # noqa: PLC0415
        from vonage_sms import SmsMessage  # noqa: PLC0415
        from vonage_sms.errors import SmsError  # noqa: PLC0415

        text = item.fields.get("text") or ""
        info = smstext.analyse(text)
        # Vonage takes at most 100 characters of callback; its receipts carry client-ref,
        # so the message id need not be in the URL.
        callback = self.opts["status_callback"] if len(self.opts["status_callback"]) <= 100 else ""
        message = SmsMessage(to=item.address.lstrip("+"), from_=self.opts["sender"].lstrip("+"), text=text,
                             type="unicode" if info.encoding == "UCS-2" else "text", client_ref=str(item.id),
                             callback=callback or None, status_report_req=True if callback else None)
        try:
            response = self.client.sms.send(message)
        except SmsError as exc:
            raise vonage_problem(str(exc)) from exc
        except HttpRequestError as exc:
            status = getattr(getattr(exc, "response", None), "status_code", 0) or 0
            if status in (401, 403, 429) or status >= 500:
                raise ProviderDown(str(status), str(exc)[:500]) from exc
            raise Permanent(str(status), str(exc)[:500]) from exc
        except HostRefused as exc:
            raise refused(exc) from exc
        except requests.RequestException as exc:
            raise ProviderDown("connection", f"{type(exc).__name__}: {exc}") from exc
        return response.messages[0].message_id if response.messages else ""


# Vonage SMS API status codes: https://developer.vonage.com/en/messaging/sms/guides/troubleshooting-sms
VONAGE_DOWN = {"1", "4", "5", "8", "9"}  # throttled, bad credentials, internal error, account barred, quota
VONAGE_RETRY = {"13"}  # communication failed


def vonage_problem(text: str) -> Exception:
    code = text.split("error code ", 1)[-1].split(":", 1)[0].strip() if "error code " in text else "error"
    if code in VONAGE_DOWN:
        return ProviderDown(code, text[:500])
    if code in VONAGE_RETRY:
        return Retryable(code, text[:500])
    return Permanent(code, text[:500])


PROVIDERS = {"twilio": TwilioProvider, "vonage": VonageProvider}


def sms_provider(delivery, config):
    if config is None or config.backend not in PROVIDERS:
        from . import Unavailable  # noqa: PLC0415

        raise Unavailable("the workspace has no SMS provider configured: choose Twilio or Vonage in its SMS settings")
    return PROVIDERS[config.backend](delivery, config)
