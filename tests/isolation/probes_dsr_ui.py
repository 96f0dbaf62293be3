"""Isolation probes for the data subject request pages (workspace admins only). Each
probe makes its own profile, with a key no other workspace has, so a key of another
workspace is a 404 under one's own."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from apps.core.sqlutil import execute
from apps.datamodel import ddl
from apps.datamodel.models import Entity
from apps.tenants.models import Workspace
from tests.isolation.probes import Probe
from tests.isolation.probes_audiences_api import _travel

_counter = iter(range(1, 10**6))
# The last profile made per workspace: the erase body confirms its key.
_last: dict[int, str] = {}


def _profile(ws: Workspace) -> dict[str, Any]:
    _travel(ws)
    key = 5000 + next(_counter)
    customer = Entity.objects.get(workspace=ws, key="customer")
    execute(sql.SQL("INSERT INTO {} (customer_id, email, first_name) VALUES (%s, %s, 'Probe')").format(
        ddl.table(customer)), [key, f"probe{key}@example.test"])
    _last[ws.pk] = str(key)
    return {"key": str(key)}


def _confirm(ws: Workspace) -> dict[str, Any]:
    return {"confirm": _last.get(ws.pk, "")}


PROBES: list[Probe] = [
    Probe("dsr-home", {"GET": "admin"}),
    Probe("dsr-export", {"GET": "admin"}, make=_profile),
    Probe("dsr-erase", {"GET": "admin", "POST": "admin"}, make=_profile, data=_confirm),
]
