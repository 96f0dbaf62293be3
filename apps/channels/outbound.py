"""Outbound HTTP to SMS and push providers, guarded like SMTP (apps/core/net.py).

A workspace may point its SMS provider (Twilio, Vonage) and its FCM / APNs services at
another base URL (an on-premise gateway), and browsers hand us Web Push endpoints: the
platform would POST there, so the host must be

- one of the providers' own public hosts, or listed by the operator
  (SMS_BASE_URL_HOSTS, PUSH_BASE_URL_HOSTS, PUSH_WEB_ENDPOINT_HOSTS; an entry
  ".example.com" allows the subdomains of example.com), and
- resolve only to public addresses (unless CHANNEL_SMTP_ALLOW_PRIVATE_HOSTS).

Both are checked when the URL is saved (`url_problem`: a 400 naming the field) and again
when the connection is made: the transports below resolve the host once, check every
address and connect to a checked one (no second lookup, so no DNS rebinding). TLS still
verifies the certificate against the host name.

`guard_session` mounts the guard on a requests session (Twilio, Vonage, pywebpush,
google-auth's token request); `guarded_httpx` builds an httpx client with it (FCM, APNs)."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from django.conf import settings
from httpcore._backends.sync import SyncStream
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from apps.core import net
from apps.core.net import HostRefused

# The providers' own public API hosts: always allowed, whatever the settings say.
PROVIDER_HOSTS = {
    "sms": ("api.twilio.com", "rest.nexmo.com", "api.nexmo.com"),
    "push": ("fcm.googleapis.com", "oauth2.googleapis.com", "api.push.apple.com", "api.sandbox.push.apple.com",
             "api.development.push.apple.com"),
    "webpush": (),
}
SETTING = {"sms": "SMS_BASE_URL_HOSTS", "push": "PUSH_BASE_URL_HOSTS", "webpush": "PUSH_WEB_ENDPOINT_HOSTS"}


def allowed_hosts(kind: str) -> list[str]:
    return [*PROVIDER_HOSTS[kind], *(h.strip().lower() for h in getattr(settings, SETTING[kind], []) or [])]


def host_listed(kind: str, host: str) -> bool:
    """True when `host` is a provider's own host or in the kind's allow-list."""
    host = (host or "").strip().lower().rstrip(".").strip("[]")
    if not host:
        return False
    for allowed in allowed_hosts(kind):
        if host == allowed.strip("[]") or (allowed.startswith(".") and host.endswith(allowed)):
            return True
    return False


def check_host(kind: str, host: str) -> None:
    """HostRefused unless the host is listed for `kind` (the address check is the
    connection's)."""
    if not host_listed(kind, host):
        raise HostRefused(host, f"it is not one of the provider's hosts nor listed in {SETTING[kind]}")


def url_problem(kind: str, host: str, port: int) -> str:
    """Why the platform would not call this host for `kind` ("" when it would): not listed,
    private address, or not resolving. For the save of a base URL."""
    if not host_listed(kind, host):
        return (f"{host!r} is not allowed: use the provider's own host, or ask the operator to list it in "
                f"{SETTING[kind]}")
    if net.private_hosts_allowed():
        return ""
    try:
        net.resolve_public(host, port)
    except HostRefused as exc:
        return str(exc)
    except OSError:
        return f"{host!r} does not resolve: give the server's public host name"
    return ""


# --- requests (urllib3): connections to checked addresses --------------------------------

def _checked_socket(conn):
    """The connection's socket to a checked address, with urllib3's socket options (its
    default is TCP_NODELAY: without it a request written in two parts, headers then body,
    waits for the server's delayed ACK, 40 ms a request on Linux)."""
    sock = net.connect_checked(conn._dns_host, conn.port, conn.timeout, conn.source_address)
    for option in conn.socket_options or ():
        sock.setsockopt(*option)
    return sock


class _CheckedConnection(HTTPConnection):
    def _new_conn(self):
        return _checked_socket(self)


class _CheckedHTTPSConnection(HTTPSConnection):
    def _new_conn(self):
        return _checked_socket(self)


class _CheckedPool(HTTPConnectionPool):
    ConnectionCls = _CheckedConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests transport that refuses hosts not listed for `kind` and connects only to
    checked addresses. `rebase` (a function of the URL) redirects the SDK's requests to the
    workspace's base URL first."""

    def __init__(self, kind: str, rebase=None, **kwargs: Any):
        self.kind, self.rebase = kind, rebase
        kwargs.setdefault("max_retries", 0)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _CheckedPool, "https": _CheckedHTTPSPool}

    def send(self, request, *args: Any, **kwargs: Any):
        if self.rebase is not None:
            request.url = self.rebase(request.url)
        check_host(self.kind, urlsplit(request.url).hostname or "")
        return super().send(request, *args, **kwargs)


def guard_session(session, kind: str, rebase=None, **adapter_kwargs: Any):
    """Mounts the guard for both schemes on a requests session (proxies from the
    environment are not used: the connection goes to the checked provider host)."""
    adapter = GuardedAdapter(kind, rebase, **adapter_kwargs)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = False
    return session


# --- httpx (httpcore): the same for FCM and APNs -----------------------------------------

class _CheckedBackend(httpcore.SyncBackend):
    def __init__(self, kind: str):
        self.kind = kind

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        check_host(self.kind, host)  # HostRefused goes to the provider as it is (not an httpx error)
        try:
            sock = net.connect_checked(host, port, timeout, (local_address, 0) if local_address else None)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for option in socket_options or ():
            sock.setsockopt(*option)
        return SyncStream(sock)


def guarded_httpx(kind: str, *, timeout: float, http1: bool = True, http2: bool = False) -> httpx.Client:
    transport = httpx.HTTPTransport(http1=http1, http2=http2)
    transport._pool._network_backend = _CheckedBackend(kind)  # httpcore's hook; httpx does not expose it
    return httpx.Client(transport=transport, timeout=timeout, trust_env=False)
