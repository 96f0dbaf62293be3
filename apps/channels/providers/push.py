"""Push: one provider per chunk that sends each message to the device its ledger row names
(the message's address is the PushSubscription id), through the service of the device's
platform:

- web: Web Push with `pywebpush` (RFC 8291 aes128gcm payload encryption under the
  browser's keys, RFC 8292 VAPID signature with the workspace's key);
- android: FCM HTTP v1 (an OAuth token from the workspace's service account through
  google-auth, at its token_uri; POST {fcm_base_url}/v1/projects/<id>/messages:send);
- ios: APNs over HTTP/2 (an ES256 JWT from the workspace's .p8 key; POST
  {apns_base_url}/3/device/<token>).

A device the service says is gone (Web Push 404/410, FCM UNREGISTERED, APNs 410 or
BadDeviceToken) is deactivated at once and its message fails "unregistered". A service
that refuses our credentials or is overloaded (401/403/429/5xx) is ProviderDown: the
delivery pauses instead of burning every message's attempts."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import requests
from django.conf import settings

from apps.core.net import HostRefused

from .. import outbound
from ..devices import endpoint_allowed, push_token_invalid
from ..models import PushPlatform, PushSubscription
from ..push_config import APNS_BASE_URL, FCM_BASE_URL, secrets_of
from . import Outgoing, Permanent, ProviderDown, Retryable
from .gate import gate_session

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
APNS_JWT_LIFETIME_S = 40 * 60  # Apple refuses tokens older than an hour and refreshes more often than 20 min
DEFAULT_TTL_S = 24 * 3600
MAX_TTL_S = 28 * 24 * 3600  # FCM's and Web Push services' longest


def _timeout() -> float:
    return float(settings.PUSH_TIMEOUT_S)


def ttl_of(content: dict[str, Any]) -> int:
    try:
        ttl = int(content.get("ttl") or DEFAULT_TTL_S)
    except (TypeError, ValueError):
        ttl = DEFAULT_TTL_S
    return max(0, min(ttl, MAX_TTL_S))


def data_of(fields: dict[str, Any], content: dict[str, Any]) -> dict[str, str]:
    """The data payload: a text value personalized is in the rendered fields as `data.<name>`."""
    raw = content.get("data") or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = {}
    if not isinstance(raw, dict):
        return {}
    return {str(k): str(fields.get(f"data.{k}", v)) for k, v in raw.items()}


def notification(item: Outgoing, content: dict[str, Any], platform: str) -> dict[str, Any]:
    """The message's fields for one platform: the rendered fields, with the platform's
    overrides (content["overrides"][platform], rendered as `overrides.<platform>.<field>`) on top."""
    fields = dict(item.fields)
    overrides = (content.get("overrides") or {}).get(platform) or {}
    for name, value in overrides.items():
        if name in ("title", "text", "url", "image_url") and isinstance(value, str) and value:
            fields[name] = item.fields.get(f"overrides.{platform}.{name}", value)
    return {"title": fields.get("title", ""), "body": fields.get("text", ""), "url": fields.get("url", ""),
            "image": fields.get("image_url", ""), "data": data_of(fields, content),
            "tracking_url": tracking_url_of(item, fields)}


def tracking_url_of(item: Outgoing, fields: dict[str, Any]) -> str:
    """The short tracking link of the message's URL (sending adds it when the delivery
    tracks clicks): opening it records the tap, then redirects to the URL. A platform
    override that changes the URL goes untracked."""
    tracked = item.fields.get("tracking_url") or ""
    return tracked if tracked and fields.get("url") == item.fields.get("url") else ""


class PushProvider:
    batch = False

    def __init__(self, delivery, config):
        self.delivery = delivery
        self.content = delivery.content or {}
        self.options = dict(config.options) if config is not None else {}
        self.secrets = secrets_of(config)
        self.ttl = ttl_of(self.content)
        self.collapse_key = str(self.content.get("collapse_key") or "")[:64]
        self._session: requests.Session | None = None
        self._fcm: httpx.Client | None = None
        self._fcm_credentials = None
        self._apns: httpx.Client | None = None
        self._apns_jwt: tuple[float, str] | None = None
        self._vapid = None
        self._devices: dict[int, PushSubscription] | None = None  # the chunk's, from prepare()

    # --- the chunk's lifetime ---------------------------------------------------------

    def close(self) -> None:
        for client in (self._session, self._fcm, self._apns):
            if client is not None:
                client.close()

    def prepare(self, items: list[Outgoing]) -> None:
        """The chunk's devices in one query, before its messages are sent one by one (a
        device unregistered while its chunk is being sent, a second or so, still gets it)."""
        ids = [int(item.address) for item in items if str(item.address).isdigit()]
        self._devices = {sub.pk: sub for sub in PushSubscription.objects.filter(
            pk__in=ids, workspace_id=self.delivery.workspace_id)}

    def send(self, item: Outgoing) -> str:
        sub = self._subscription(item)
        note = notification(item, self.content, sub.platform)
        if sub.platform == PushPlatform.WEB:
            return self._web(sub, note, item)
        if sub.platform == PushPlatform.ANDROID:
            return self._fcm_send(sub, note, item)
        return self._apns_send(sub, note, item)

    def send_gated(self, item: Outgoing, gate: Callable[[], None]) -> str:
        """send(), calling `gate` (the sender's wait for the previous message's result to be
        recorded) right before this message's request leaves: a Web Push message is
        encrypted and signed while that result commits. FCM, APNs and the first Web Push
        message (before the session exists) wait first."""
        sub = self._subscription(item)
        if sub.platform != PushPlatform.WEB or self._session is None:
            gate()
            return self.send(item)
        gate_session(self._session)
        if self._vapid is not None and not getattr(self._vapid, "reuses_tokens", False):
            self._vapid = _reusing_vapid(self._vapid)
        self._session.gate = gate
        try:
            return self.send(item)
        finally:
            self._session.gate = None

    def _subscription(self, item: Outgoing) -> PushSubscription:
        try:
            pk = int(item.address)
        except (TypeError, ValueError):
            raise Permanent("no_device", "the message names no push device") from None
        if self._devices is not None and pk in self._devices:
            sub = self._devices[pk]
        else:
            sub = PushSubscription.objects.filter(pk=pk, workspace_id=self.delivery.workspace_id).first()
        if sub is None or not sub.active:
            raise Permanent("unregistered", "the device was unregistered before the message was sent")
        return sub

    def _gone(self, sub: PushSubscription, reason: str) -> Permanent:
        sub.active = False  # the chunk's copy too (prepare)
        push_token_invalid(workspace_id=sub.workspace_id, platform=sub.platform, token=sub.token, reason=reason)
        return Permanent("unregistered", reason)

    # --- Web Push ---------------------------------------------------------------------

    def _web(self, sub: PushSubscription, note: dict[str, Any], item: Outgoing) -> str:
        from pywebpush import WebPushException, webpush  # noqa: PLC0415 - heavy, push deliveries only

        if not self.secrets.get("vapid_private_key"):
            raise ProviderDown("not_configured", "Web Push has no VAPID key in the push settings")
        if not endpoint_allowed(sub.token):
            raise self._gone(sub, "the endpoint is not a known push service")
        if self._vapid is None:
            from py_vapid import Vapid02  # noqa: PLC0415

            self._vapid = Vapid02.from_pem(self.secrets["vapid_private_key"].encode())
            self._session = web_session()
        parts = urlsplit(sub.token)
        claims = {"sub": self.options.get("vapid_subject") or f"mailto:{settings.DEFAULT_FROM_EMAIL}",
                  "aud": f"{parts.scheme}://{parts.netloc}", "exp": int(time.time()) + 12 * 3600}
        payload = {"title": note["title"], "body": note["body"], "url": note["tracking_url"] or note["url"],
                   "image": note["image"],
                   "data": note["data"], "tag": self.collapse_key, "message_id": item.message_id}
        headers = {"Urgency": "normal"}
        if self.collapse_key:
            headers["Topic"] = "".join(c for c in self.collapse_key if c.isalnum() or c in "-_")[:32]
        try:
            response = webpush(subscription_info={"endpoint": sub.token, "keys": sub.keys},
                               data=json.dumps(payload, separators=(",", ":")), vapid_private_key=self._vapid,
                               vapid_claims=claims, content_encoding="aes128gcm", ttl=self.ttl, headers=headers,
                               timeout=_timeout(), requests_session=self._session)
        except WebPushException as exc:
            status = getattr(exc.response, "status_code", 0) or 0
            text = (getattr(exc.response, "text", "") or str(exc))[:300]
            if status in (404, 410):
                raise self._gone(sub, f"the push service answered {status}: the subscription is gone") from None
            if status == 429 or status >= 500:
                raise Retryable(str(status), text) from None
            raise Permanent(str(status or "webpush"), text) from None
        except HostRefused as exc:  # the endpoint's host resolves to an address we do not call
            raise Permanent("host_refused", f"the push service {exc}"[:300]) from None
        except requests.RequestException as exc:
            raise Retryable("connection", f"{type(exc).__name__}: {exc}"[:300]) from None
        return response.headers.get("Location", "") or f"webpush:{item.message_id}"

    # --- FCM HTTP v1 ------------------------------------------------------------------

    def _fcm_token(self) -> str:
        from google.auth.exceptions import GoogleAuthError  # noqa: PLC0415
        from google.auth.transport.requests import Request  # noqa: PLC0415
        from google.oauth2 import service_account  # noqa: PLC0415

        info = self.secrets.get("fcm_service_account")
        if not info:
            raise ProviderDown("not_configured", "FCM has no service account in the push settings")
        if self._fcm_credentials is None:
            self._fcm_credentials = service_account.Credentials.from_service_account_info(info, scopes=[FCM_SCOPE])
        creds = self._fcm_credentials
        if not creds.valid:
            session = outbound.guard_session(requests.Session(), "push")
            timeout = _timeout()

            class TimedRequest(Request):  # google-auth's token request has no timeout of its own
                def __call__(self, *args, **kwargs):
                    kwargs["timeout"] = timeout
                    return super().__call__(*args, **kwargs)

            try:
                creds.refresh(TimedRequest(session))
            except GoogleAuthError as exc:
                raise ProviderDown("fcm_auth", f"the service account's token request failed: {exc}"[:300]) from None
            except HostRefused as exc:
                raise refused("FCM token_uri", exc) from None
            finally:
                session.close()
        return creds.token

    def _fcm_send(self, sub: PushSubscription, note: dict[str, Any], item: Outgoing) -> str:
        token = self._fcm_token()
        if self._fcm is None:
            self._fcm = outbound.guarded_httpx("push", timeout=_timeout())
        base = (self.options.get("fcm_base_url") or FCM_BASE_URL).rstrip("/")
        project = quote(self.secrets["fcm_service_account"]["project_id"], safe="")
        notification_body = {k: v for k, v in (("title", note["title"]), ("body", note["body"]),
                                               ("image", note["image"])) if v}
        data = dict(note["data"])
        if note["url"]:
            data.setdefault("url", note["url"])
        if note["tracking_url"]:
            data.setdefault("tracking_url", note["tracking_url"])
        android: dict[str, Any] = {"ttl": f"{self.ttl}s", "priority": "high"}
        if self.collapse_key:
            android["collapse_key"] = self.collapse_key
        message: dict[str, Any] = {"token": sub.token, "notification": notification_body, "android": android}
        if data:
            message["data"] = data
        try:
            response = self._fcm.post(f"{base}/v1/projects/{project}/messages:send", json={"message": message},
                                      headers={"Authorization": f"Bearer {token}"})
        except httpx.TimeoutException as exc:
            raise Retryable("timeout", str(exc)[:300]) from None
        except httpx.HTTPError as exc:
            raise ProviderDown("connection", f"{type(exc).__name__}: {exc}"[:300]) from None
        except HostRefused as exc:
            raise refused("FCM", exc) from None
        if response.status_code == 200:
            return response.json().get("name", "")
        error = _json(response).get("error") or {}
        codes = {d.get("errorCode") for d in error.get("details") or [] if isinstance(d, dict)}
        text = f"{error.get('status', '')} {error.get('message', response.text[:200])}".strip()[:300]
        if "UNREGISTERED" in codes or response.status_code == 404:
            raise self._gone(sub, f"FCM: {text}")
        if response.status_code in (401, 403):
            self._fcm_credentials = None
            raise ProviderDown(str(response.status_code), f"FCM refused the credentials: {text}")
        if response.status_code == 429 or response.status_code >= 500:
            raise ProviderDown(str(response.status_code), f"FCM: {text}")
        raise Permanent(str(response.status_code), f"FCM: {text}")

    # --- APNs -------------------------------------------------------------------------

    def _apns_token(self) -> str:
        from google.auth import crypt, jwt  # noqa: PLC0415

        now = time.time()
        if self._apns_jwt is not None and now - self._apns_jwt[0] < APNS_JWT_LIFETIME_S:
            return self._apns_jwt[1]
        key, key_id, team = (self.secrets.get("apns_key"), self.options.get("apns_key_id"),
                             self.options.get("apns_team_id"))
        if not (key and key_id and team):
            raise ProviderDown("not_configured", "APNs needs the .p8 key, its key id and the team id in the "
                                                 "push settings")
        signer = crypt.ES256Signer.from_string(key, key_id)
        token = jwt.encode(signer, {"iss": team, "iat": int(now)}).decode()
        self._apns_jwt = (now, token)
        return token

    def _apns_send(self, sub: PushSubscription, note: dict[str, Any], item: Outgoing) -> str:
        token = self._apns_token()
        topic = sub.app_id or self.options.get("apns_topic") or ""
        if not topic:
            raise Permanent("no_topic", "the device has no app id and the push settings no APNs topic")
        if self._apns is None:
            # APNs speaks HTTP/2 only: prior knowledge, no HTTP/1.1 fallback.
            self._apns = outbound.guarded_httpx("push", http1=False, http2=True, timeout=_timeout())
        base = (self.options.get("apns_base_url") or APNS_BASE_URL).rstrip("/")
        alert = {k: v for k, v in (("title", note["title"]), ("body", note["body"])) if v}
        aps: dict[str, Any] = {"alert": alert, "sound": "default"}
        if note["image"]:
            aps["mutable-content"] = 1
        body: dict[str, Any] = {"aps": aps, **{k: v for k, v in note["data"].items() if k != "aps"}}
        if note["url"]:
            body["url"] = note["url"]
        if note["tracking_url"]:
            body["tracking_url"] = note["tracking_url"]
        if note["image"]:
            body["image_url"] = note["image"]
        headers = {"authorization": f"bearer {token}", "apns-topic": topic, "apns-push-type": "alert",
                   "apns-priority": "10", "apns-expiration": str(int(time.time()) + self.ttl if self.ttl else 0),
                   # The same message sent again (a retry after a crash) carries the same apns-id.
                   "apns-id": str(uuid.uuid5(uuid.NAMESPACE_URL, item.message_id))}
        if self.collapse_key:
            headers["apns-collapse-id"] = self.collapse_key
        try:
            response = self._apns.post(f"{base}/3/device/{quote(sub.token, safe='')}",
                                       content=json.dumps(body, separators=(",", ":")).encode(), headers=headers)
        except httpx.TimeoutException as exc:
            raise Retryable("timeout", str(exc)[:300]) from None
        except httpx.HTTPError as exc:
            raise ProviderDown("connection", f"{type(exc).__name__}: {exc}"[:300]) from None
        except HostRefused as exc:
            raise refused("APNs", exc) from None
        if response.status_code == 200:
            return response.headers.get("apns-id", "")
        reason = str(_json(response).get("reason") or response.status_code)[:200]
        if response.status_code == 410 or reason in ("BadDeviceToken", "Unregistered"):
            raise self._gone(sub, f"APNs: {reason}")
        if response.status_code in (403, 429) or response.status_code >= 500:
            self._apns_jwt = None
            raise ProviderDown(str(response.status_code), f"APNs: {reason}")
        raise Permanent(str(response.status_code), f"APNs: {reason}")


def web_session() -> requests.Session:
    """pywebpush's session: only endpoints on the allowed push services' hosts
    (PUSH_WEB_ENDPOINT_HOSTS), connected at a checked address (apps/channels/outbound.py)."""
    return outbound.guard_session(requests.Session(), "webpush")


def refused(service: str, exc: HostRefused) -> ProviderDown:
    """A base URL the platform does not call: the delivery pauses as in an outage until the
    push settings are corrected, instead of failing every message."""
    return ProviderDown("host_refused", f"{service}: the host {exc}"[:300])


VAPID_REUSE_S = 3600  # a VAPID token is signed for 12 h (its exp): reused for an hour at most


def _reusing_vapid(vapid):
    """The same VAPID key, signing one token per push service (audience) and subject an
    hour instead of one per message (RFC 8292 tokens are meant to be reused until near
    their expiry; an ECDSA signature per message is most of a Web Push's own CPU)."""
    from py_vapid import Vapid02  # noqa: PLC0415

    class Reusing(Vapid02):
        reuses_tokens = True

        def __init__(self, private_key):
            super().__init__(private_key=private_key)
            self.tokens: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}

        def sign(self, claims, crypto_key=None):
            key, now = (str(claims.get("aud")), str(claims.get("sub"))), time.monotonic()
            cached = self.tokens.get(key)
            if cached is None or now - cached[0] > VAPID_REUSE_S or crypto_key:
                cached = (now, super().sign(claims, crypto_key))
                self.tokens[key] = cached
            return dict(cached[1])

    return Reusing(vapid.private_key)


def _json(response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
