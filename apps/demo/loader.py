"""The whole demo, in order: agencies, workspaces and users; verified sender domains;
the client data models with `profiles` profiles each (when their profile table is
empty); the travel workspace's messaging. Idempotent: a second load creates nothing."""

from __future__ import annotations

from typing import Any

from apps.datamodel.models import Entity
from apps.datamodel.selectors import records_count
from apps.tenants.models import Workspace

from .accounts import WORKSPACE_SLUGS, load_accounts
from .generate import KINDS, generate
from .messaging import load_messaging_demo
from .senders import verify_demo_sender

DEFAULT_PROFILES = 2000


def load_demo(*, profiles: int = DEFAULT_PROFILES, password: str | None = None) -> dict[str, Any]:
    """Counts of what was created, keyed by kind (and by workspace where per workspace)."""
    counts: dict[str, Any] = load_accounts(password)
    for workspace in Workspace.objects.filter(slug__in=WORKSPACE_SLUGS):
        # The platform's server sends only from verified domains: the demo's are.
        if verify_demo_sender(workspace):
            counts[f"sender:{workspace.slug}"] = 1
    for slug in KINDS:
        workspace = Workspace.objects.get(slug=slug)
        profile = Entity.objects.filter(workspace=workspace, is_profile=True).first()
        if profile is None or records_count(entity=profile) == 0:
            generate(workspace=workspace, profiles=profiles)
            counts[f"data:{slug}"] = profiles
        if KINDS[slug] == "travel":
            messaging = load_messaging_demo(workspace)
            if messaging:
                counts[f"messaging:{slug}"] = messaging
    return counts
