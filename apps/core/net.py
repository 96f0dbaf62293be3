"""The client's address, for audit events and login throttling; the check of addresses a
tenant asks the platform to connect to (its SMTP server)."""

from __future__ import annotations

import ipaddress
import socket

from django.conf import settings


def client_ip(request, *args) -> str | None:
    """REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address they saw connect.
    (Only the proxies' own entries of X-Forwarded-For can be trusted.)"""
    count = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if count > 0:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= count:
            return forwarded[-count]
    return request.META.get("REMOTE_ADDR") or None


def login_username(request, credentials) -> str | None:
    """The email tried at login, lowercased, so capitalisation gives no extra guesses."""
    value = (credentials or {}).get("username") or request.POST.get("username")
    return value.strip().lower() if value else value


# --- outbound connections to hosts a tenant names (SMTP servers) ------------------------

class HostRefused(ValueError):
    """A tenant-named host that resolves to an address the platform does not connect to
    (loopback, private, link-local, reserved...), or does not resolve at all. The message
    is the same whatever the port, so it tells nothing about what listens there."""

    def __init__(self, host: str, reason: str):
        super().__init__(f"{host!r} is not allowed: {reason}")
        self.host, self.reason = host, reason


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def address_is_public(address: str) -> bool:
    """True for a globally routable unicast address; IPv4 addresses inside IPv6 ones
    (mapped, 6to4, Teredo) are judged as themselves."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # the IPv4 address itself, on an IPv6 socket
            return address_is_public(str(ip.ipv4_mapped))
        inner = _embedded_ipv4(ip)
        if inner is not None and not address_is_public(str(inner)):
            return False
    return ip.is_global and not (ip.is_multicast or ip.is_private or ip.is_loopback or ip.is_link_local
                                 or ip.is_reserved or ip.is_unspecified)


def private_hosts_allowed() -> bool:
    return bool(getattr(settings, "CHANNEL_SMTP_ALLOW_PRIVATE_HOSTS", False))


def resolve_public(host: str, port: int) -> list[tuple]:
    """getaddrinfo() results for a tenant-named host, refused (HostRefused) when ANY of its
    addresses is not public (unless CHANNEL_SMTP_ALLOW_PRIVATE_HOSTS): the caller connects to one of these checked addresses, never
    to the name again (a second lookup could answer differently: DNS rebinding)."""
    name = (host or "").strip().strip("[]")
    try:
        # A name that does not resolve (now) is an OSError: maybe temporary, retried.
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (UnicodeError, ValueError):
        raise HostRefused(host, "it is not a host name") from None
    if private_hosts_allowed():
        return infos
    for info in infos:
        if not address_is_public(info[4][0]):
            raise HostRefused(host, "it is or resolves to a loopback, private, link-local or reserved address, "
                                    "which this platform does not connect to")
    return infos


def connect_checked(host: str, port: int, timeout: float | None, source_address=None) -> socket.socket:
    """A TCP connection to one of the host's checked addresses (see resolve_public)."""
    infos = resolve_public(host, port)
    last: OSError | None = None
    for family, kind, proto, _name, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not None:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(address)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last or OSError(f"could not connect to {host}")
