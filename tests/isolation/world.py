"""The cast and the look-alike data for isolation probes.

Two agencies each own a workspace with the SAME name; objects are created in both, in
alternation, so ids neighbour and names match: a probe that reaches the wrong workspace's
object cannot pass by accident."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

from apps.tenants.models import Workspace
from tests.factories import (
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    WorkspaceFactory,
    grant,
    make_api_key,
)

ROLE_ORDER = ["viewer", "marketer", "approver", "admin"]


@dataclass
class World:
    victim: Workspace
    twin: Workspace
    users: dict[str, object] = field(default_factory=dict)  # role name -> user in victim
    outsider: object = None  # owner of the twin's agency, nothing in the victim
    keys: dict[str, str] = field(default_factory=dict)  # "victim:<role>" / "twin:admin" -> raw key

    @classmethod
    def build(cls) -> World:
        org_a = OrganizationFactory(name="Acme", slug="acme-probe")
        org_b = OrganizationFactory(name="Acme", slug="acme-probe-twin")
        victim = WorkspaceFactory(organization=org_a, name="Northwind", slug="northwind-probe")
        twin = WorkspaceFactory(organization=org_b, name="Northwind", slug="northwind-probe-twin")
        world = cls(victim=victim, twin=twin)
        for role in ROLE_ORDER:
            world.users[role] = grant(UserFactory(email=f"{role}@victim.test"), victim, role)
            grant(UserFactory(email=f"{role}@twin.test"), twin, role)
        owner = UserFactory(email="owner@victim.test")
        MembershipFactory(organization=org_a, user=owner, role="owner")
        world.users["owner"] = owner
        world.outsider = UserFactory(email="outsider@twin.test")
        MembershipFactory(organization=org_b, user=world.outsider, role="owner")
        for role in ROLE_ORDER:
            _, world.keys[f"victim:{role}"] = make_api_key(victim, role=role, name=f"probe {role}")
            _, world.keys[f"twin:{role}"] = make_api_key(twin, role=role, name=f"probe {role}")
        return world


# Columns that legitimately change on a denied request (a login, a key's last use).
VOLATILE_COLUMNS = {
    "tenants_user": ["last_login"],
    "tenants_apikey": ["last_used_at"],
}
IGNORED_TABLES = {"django_session"}
IGNORED_PREFIXES = ("axes_",)


def database_digest() -> dict[str, str]:
    """A fingerprint of every row of every table in public and the workspace schemas."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT table_schema, table_name FROM information_schema.tables
            WHERE table_type = 'BASE TABLE'
              AND (table_schema = 'public' OR table_schema LIKE 'ws\\_%%')
            ORDER BY 1, 2
            """
        )
        tables = cursor.fetchall()
        digest = {}
        from psycopg import sql

        for schema, table in tables:
            if table in IGNORED_TABLES or table.startswith(IGNORED_PREFIXES):
                continue
            row = sql.SQL("to_jsonb(t)")
            for column in VOLATILE_COLUMNS.get(table, []):
                row = sql.SQL("({} - {})").format(row, sql.Literal(column))
            query = sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(md5(({row})::text), ',' ORDER BY md5(({row})::text)), ''))"
                " FROM {table} t"
            ).format(row=row, table=sql.Identifier(schema, table))
            cursor.execute(query.as_string(cursor.connection))
            count, md5 = cursor.fetchone()
            digest[f"{schema}.{table}"] = f"{count}:{md5}"
    return digest
