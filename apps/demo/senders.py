"""The demo workspaces' sender domains, verified: their campaigns go out through the
platform's server (which sends only from verified domains) without a confirmation email
to a mailbox nobody reads."""

from __future__ import annotations

from apps.channels.models import SenderDomainStatus
from apps.channels.senders import domain_of, sender_domain_list, sender_domain_verify


def verify_demo_sender(workspace) -> int:
    """Marks the domain of the workspace's sender address verified; 1 when it was not."""
    domain = domain_of(workspace.sender_email or "")
    if not domain:
        return 0
    if sender_domain_list(workspace=workspace).filter(domain=domain, status=SenderDomainStatus.VERIFIED).exists():
        return 0
    sender_domain_verify(workspace=workspace, actor=None, domain=domain)
    return 1
