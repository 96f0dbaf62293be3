"""Sender domains: which domains a workspace may send email from through the platform's
own server. A domain is verified by a confirmation link mailed to a role mailbox at it
(postmaster@, hostmaster@, webmaster@, admin@, administrator@: the addresses certificate
authorities trust for the same question; any other mailbox could belong to anyone at a
shared domain), or by a DNS TXT record "orchestrate-verification=<token>" at the domain
(whoever edits its zone controls it). Workspaces with their own SMTP server or email service send from what
their server accepts and are not bound by these."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from apps.tenants.access import access_object
from apps.tenants.services import audit_record

from .models import ChannelConfig, SenderDomain, SenderDomainStatus

ROLE_MAILBOXES = ("postmaster", "hostmaster", "webmaster", "admin", "administrator")
DOMAIN_SHAPE = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$")


def _link_lifetime() -> dt.timedelta:
    return dt.timedelta(hours=int(getattr(settings, "SENDER_DOMAIN_LINK_HOURS", 72)))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_domain(value: Any) -> str:
    """The domain in lowercase IDNA form; ValidationError({"domain": ...}) when it is not one."""
    raw = str(value or "").strip().lower().rstrip(".")
    raw = raw.split("@")[-1] if raw.count("@") == 1 and raw.startswith("@") else raw
    try:
        domain = raw.encode("idna").decode("ascii") if raw and not raw.isascii() else raw
    except UnicodeError:
        domain = ""
    if not domain or not DOMAIN_SHAPE.match(domain):
        raise ValidationError({"domain": f"{str(value)[:100]!r} is not a domain name (like example.com)"})
    return domain


def domain_of(address: str) -> str:
    domain = (address or "").rsplit("@", 1)[-1].strip().lower().rstrip(".")
    try:
        return domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        return domain


# --- reads -------------------------------------------------------------------------------

def sender_domain_list(*, workspace) -> QuerySet[SenderDomain]:
    return SenderDomain.objects.filter(workspace=workspace).order_by("domain", "id")


def access_sender_domain(actor: Any, workspace, pk: Any) -> SenderDomain:
    return access_object(SenderDomain.objects.all(), workspace, pk)


def uses_platform_server(workspace) -> bool:
    return not ChannelConfig.objects.filter(workspace=workspace, channel="email").exists()


def sender_problem(*, workspace, from_email: str, platform: bool | None = None) -> str:
    """Why this sender may not go out through the platform's server ("" when it may, or
    when the workspace has its own server: `platform` False)."""
    if platform is None:
        platform = uses_platform_server(workspace)
    if not platform:
        return ""
    domain = domain_of(from_email)
    if domain and SenderDomain.objects.filter(workspace=workspace, domain=domain,
                                              status=SenderDomainStatus.VERIFIED).exists():
        return ""
    return (f"the sender domain {domain or '(none)'} is not verified for this workspace: the platform's email "
            "server sends only from verified sender domains (email settings > sender domains), or configure "
            "the workspace's own SMTP server or email service")


# --- writes ------------------------------------------------------------------------------

def sender_domain_add(*, workspace, actor, domain: str, mailbox: str = "postmaster",
                      ip_address: str | None = None) -> SenderDomain:
    """Add a domain (pending) and mail its confirmation link to mailbox@domain."""
    domain = normalize_domain(domain)
    _check_mailbox(mailbox)
    if SenderDomain.objects.filter(workspace=workspace, domain=domain).exists():
        raise ValidationError({"domain": f"{domain} is already a sender domain of this workspace"})
    try:
        with transaction.atomic():
            sender = SenderDomain.objects.create(workspace=workspace, domain=domain, dns_token=secrets.token_hex(16),
                                                 created_by=actor if getattr(actor, "pk", None) else None)
    except IntegrityError:  # added at the same moment by someone else
        raise ValidationError({"domain": f"{domain} is already a sender domain of this workspace"}) from None
    audit_record(workspace=workspace, actor=actor, verb="sender_domain.added", target=sender,
                 data={"domain": domain}, ip_address=ip_address)
    return sender_domain_send_link(workspace=workspace, actor=actor, sender_domain=sender, mailbox=mailbox,
                                   ip_address=ip_address)


def _check_mailbox(mailbox: str) -> None:
    if mailbox not in ROLE_MAILBOXES:
        raise ValidationError({"mailbox": f"one of {', '.join(ROLE_MAILBOXES)}: the link goes to a mailbox only "
                                          "the domain's owner reads"})


def sender_domain_send_link(*, workspace, actor, sender_domain: SenderDomain, mailbox: str = "postmaster",
                            ip_address: str | None = None) -> SenderDomain:
    """A new confirmation link (the previous one stops working), mailed through the
    platform's server after the transaction commits."""
    if sender_domain.workspace_id != workspace.pk:
        raise ValidationError("no such sender domain")
    if sender_domain.status == SenderDomainStatus.VERIFIED:
        raise ValidationError({"domain": f"{sender_domain.domain} is already verified"})
    _check_mailbox(mailbox)
    token = secrets.token_urlsafe(32)
    address = f"{mailbox}@{sender_domain.domain}"
    sender_domain.token_hash, sender_domain.confirm_address = _token_hash(token), address
    sender_domain.link_sent_at = timezone.now()
    sender_domain.save(update_fields=["token_hash", "confirm_address", "link_sent_at"])
    audit_record(workspace=workspace, actor=actor, verb="sender_domain.link_sent", target=sender_domain,
                 data={"domain": sender_domain.domain, "to": address}, ip_address=ip_address)
    link = settings.SITE_URL.rstrip("/") + reverse("sender-domain-confirm", kwargs={"token": token})
    asker = getattr(actor, "email", "") or str(actor or "someone")
    hours = int(_link_lifetime().total_seconds() // 3600)
    message = EmailMessage(
        subject=f"Confirm that {workspace.name} may send email from {sender_domain.domain}",
        body=(f"{asker} asked that the workspace {workspace.name} ({workspace.organization.name}) on Orchestrate "
              f"may send email from addresses at {sender_domain.domain}.\n\n"
              f"If you manage {sender_domain.domain} and agree, open this link within {hours} hours and confirm:\n"
              f"{link}\n\nIf you did not expect this, ignore this email: nothing is sent from your domain "
              "without the confirmation.\n"),
        from_email=None, to=[address])
    transaction.on_commit(lambda: message.send(fail_silently=False))
    return sender_domain


def sender_domain_find(*, token: str) -> SenderDomain | None:
    """The pending domain whose unexpired link carries this token, or None."""
    if not token:
        return None
    return (SenderDomain.objects.select_related("workspace", "workspace__organization")
            .filter(token_hash=_token_hash(token), status=SenderDomainStatus.PENDING,
                    link_sent_at__gt=timezone.now() - _link_lifetime()).first())


def sender_domain_confirm(*, token: str, ip_address: str | None = None) -> SenderDomain:
    """Verify the domain of a confirmation link (once; the link then stops working)."""
    with transaction.atomic():
        sender = sender_domain_find(token=token)
        if sender is None:
            raise ValidationError("This confirmation link is not valid: it was used already, replaced by a newer "
                                  "one, or it expired.")
        sender = SenderDomain.objects.select_for_update().get(pk=sender.pk)
        if sender.status != SenderDomainStatus.PENDING or sender.token_hash != _token_hash(token):
            raise ValidationError("This confirmation link is not valid any more.")
        sender.status, sender.verified_at, sender.token_hash = SenderDomainStatus.VERIFIED, timezone.now(), ""
        sender.verified_via = "link"
        sender.save(update_fields=["status", "verified_at", "token_hash", "verified_via"])
        audit_record(workspace=sender.workspace, actor=None, verb="sender_domain.verified", target=sender,
                     data={"domain": sender.domain, "by": sender.confirm_address}, ip_address=ip_address)
    return sender


def sender_domain_verify(*, workspace, actor, domain: str, ip_address: str | None = None) -> SenderDomain:
    """Verify a domain by hand, without a link or a DNS record: for whoever vouches for it
    another way (the demo's own .test domains). A missing domain is added (with the
    postmaster mailbox as its confirmation address); a verified one is left as it is."""
    domain = normalize_domain(domain)
    with transaction.atomic():
        sender, created = SenderDomain.objects.select_for_update().get_or_create(
            workspace=workspace, domain=domain,
            defaults={"confirm_address": f"postmaster@{domain}",
                      "created_by": actor if getattr(actor, "pk", None) else None})
        if created:
            audit_record(workspace=workspace, actor=actor, verb="sender_domain.added", target=sender,
                         data={"domain": domain}, ip_address=ip_address)
        if sender.status == SenderDomainStatus.VERIFIED:
            return sender
        sender.status, sender.verified_at, sender.token_hash = SenderDomainStatus.VERIFIED, timezone.now(), ""
        sender.verified_via = "admin"
        sender.save(update_fields=["status", "verified_at", "token_hash", "verified_via"])
        audit_record(workspace=workspace, actor=actor, verb="sender_domain.verified", target=sender,
                     data={"domain": domain, "by": "admin"}, ip_address=ip_address)
    return sender


class DnsUnavailable(Exception):
    """No name server answered (the check says so; it can be tried again)."""


def _nameservers() -> list[tuple[str, int]]:
    found = []
    for entry in getattr(settings, "SENDER_DOMAIN_DNS_NAMESERVERS", []) or []:
        host, _, port = str(entry).strip().rpartition(":") if str(entry).count(":") == 1 else (str(entry), "", "")
        found.append((host or str(entry).strip(), int(port or 53)))
    return found


def txt_records(domain: str) -> list[str]:
    """The TXT strings at the domain ([] when it has none); DnsUnavailable when no name
    server answered in time."""
    import dns.exception  # noqa: PLC0415
    import dns.resolver  # noqa: PLC0415

    servers = _nameservers()
    try:
        resolver = dns.resolver.Resolver(configure=not servers)
    except dns.exception.DNSException as exc:
        raise DnsUnavailable(f"no name server is configured ({type(exc).__name__})") from None
    if servers:
        resolver.nameservers = [host for host, _port in servers]
        resolver.nameserver_ports = dict(servers)
    resolver.lifetime = resolver.timeout = float(getattr(settings, "SENDER_DOMAIN_DNS_TIMEOUT_S", 5))
    try:
        answer = resolver.resolve(domain, "TXT", search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as exc:
        raise DnsUnavailable(f"the name servers did not answer ({type(exc).__name__})") from None
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


def sender_domain_check_dns(*, workspace, actor, sender_domain: SenderDomain,
                            ip_address: str | None = None) -> SenderDomain:
    """Look for the domain's TXT record; verified when it is there. The result of the
    check (found or not, and why) is kept on the domain either way."""
    if sender_domain.workspace_id != workspace.pk:
        raise ValidationError("no such sender domain")
    if sender_domain.status == SenderDomainStatus.VERIFIED:
        raise ValidationError({"domain": f"{sender_domain.domain} is already verified"})
    if not sender_domain.dns_token:
        sender_domain.dns_token = secrets.token_hex(16)
    expected = sender_domain.dns_record
    try:
        records = txt_records(sender_domain.domain)
    except DnsUnavailable as exc:
        result = f"not checked: {exc}; try again later"
    else:
        if expected in (r.strip() for r in records):
            result = "found"
        elif records:
            result = f"not found: {sender_domain.domain} has {len(records)} TXT record(s), none is {expected}"
        else:
            result = f"not found: {sender_domain.domain} has no TXT record"
    sender_domain.dns_checked_at, sender_domain.dns_result = timezone.now(), result[:300]
    fields = ["dns_token", "dns_checked_at", "dns_result"]
    if result == "found":
        sender_domain.status, sender_domain.verified_at = SenderDomainStatus.VERIFIED, timezone.now()
        sender_domain.verified_via, sender_domain.token_hash = "dns", ""
        fields += ["status", "verified_at", "verified_via", "token_hash"]
    sender_domain.save(update_fields=fields)
    audit_record(workspace=workspace, actor=actor, verb="sender_domain.dns_checked", target=sender_domain,
                 data={"domain": sender_domain.domain, "result": result[:300]}, ip_address=ip_address)
    return sender_domain


def sender_domain_delete(*, workspace, actor, sender_domain: SenderDomain, ip_address: str | None = None) -> None:
    """Remove a domain: campaigns sending from it through the platform's server fail
    their messages from now on (and are refused when published)."""
    if sender_domain.workspace_id != workspace.pk:
        raise ValidationError("no such sender domain")
    audit_record(workspace=workspace, actor=actor, verb="sender_domain.deleted", target=sender_domain,
                 data={"domain": sender_domain.domain}, ip_address=ip_address)
    sender_domain.delete()
