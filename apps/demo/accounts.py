"""The demo agencies, workspaces and users everyone can try (README lists the logins).
Loading is idempotent: existing rows are kept (a changed password is not reset)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from apps.tenants import services
from apps.tenants.models import Organization, OrganizationRole, Workspace
from apps.tenants.roles import WorkspaceRole
from apps.tenants.selectors import member_role

User = get_user_model()

ORGANIZATIONS = [
    {"name": "Acme Agency", "slug": "acme", "workspaces": [
        {"slug": "northwind-travel", "name": "Northwind Travel", "time_zone": "Europe/Amsterdam",
         "default_language": "en", "sender_name": "Northwind Travel", "sender_email": "hello@northwind.test"},
        {"slug": "contoso-retail", "name": "Contoso Retail", "time_zone": "America/New_York",
         "default_language": "en", "sender_name": "Contoso", "sender_email": "news@contoso.test"},
    ]},
    {"name": "Globex Partners", "slug": "globex", "workspaces": [
        {"slug": "globex-shop", "name": "Globex Shop", "time_zone": "Europe/Berlin",
         "default_language": "de", "sender_name": "Globex Shop", "sender_email": "shop@globex.test"},
    ]},
]
WORKSPACE_SLUGS = [ws["slug"] for org in ORGANIZATIONS for ws in org["workspaces"]]

# (email, first name, organization slug, organization role, {workspace slug: role})
USERS = [
    ("owner@acme.test", "Olivia", "acme", OrganizationRole.OWNER, {}),
    ("admin@acme.test", "Adam", "acme", OrganizationRole.MEMBER, {"northwind-travel": WorkspaceRole.ADMIN}),
    ("approver@acme.test", "April", "acme", OrganizationRole.MEMBER, {"northwind-travel": WorkspaceRole.APPROVER}),
    ("marketer@acme.test", "Mark", "acme", OrganizationRole.MEMBER,
     {"northwind-travel": WorkspaceRole.MARKETER, "contoso-retail": WorkspaceRole.MARKETER}),
    ("viewer@acme.test", "Vera", "acme", OrganizationRole.MEMBER, {"northwind-travel": WorkspaceRole.VIEWER}),
    ("outsider@globex.test", "Oscar", "globex", OrganizationRole.OWNER, {}),
]
SUPERUSER = "root@orchestrate.test"


@transaction.atomic
def load_accounts(password: str | None = None) -> dict[str, int]:
    """The organizations, workspaces and users above; counts of those created."""
    password = password or settings.DEMO_PASSWORD
    counts = {"organizations": 0, "workspaces": 0, "users": 0}
    workspaces: dict[str, Workspace] = {}
    orgs: dict[str, Organization] = {}
    for spec in ORGANIZATIONS:
        org = Organization.objects.filter(slug=spec["slug"]).first()
        if org is None:
            org = services.organization_create(name=spec["name"], slug=spec["slug"])
            counts["organizations"] += 1
        orgs[org.slug] = org
        for ws_spec in spec["workspaces"]:
            ws = Workspace.objects.filter(slug=ws_spec["slug"]).first()
            if ws is None:
                ws = services.workspace_create(organization=org, actor=None, **ws_spec)
                counts["workspaces"] += 1
            workspaces[ws.slug] = ws
    for email, first_name, org_slug, org_role, roles in USERS:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = services.user_create(email=email, password=password, first_name=first_name)
            counts["users"] += 1
        services.organization_member_add(organization=orgs[org_slug], user=user, role=org_role)
        for ws_slug, role in roles.items():
            if member_role(workspace=workspaces[ws_slug], user=user) != role:
                services.member_set_role(workspace=workspaces[ws_slug], actor=None, user=user, role=role)
    if not User.objects.filter(email=SUPERUSER).exists():
        services.user_create(email=SUPERUSER, password=password, first_name="Root", superuser=True)
        counts["users"] += 1
    return counts
