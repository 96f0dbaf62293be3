"""Isolation probes for the audiences API (see probes.py for what a probe says).

Each workspace gets the travel model (customer, product, booking) once; every make()
creates a fresh audience with a name unique across workspaces (a counter), so a probe that
reached the twin's look-alike could not pass by finding it. The rule endpoints only
evaluate: they are POSTs that must change nothing (writes=False)."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from apps.audiences import services
from apps.datamodel.models import Entity
from apps.tenants.models import Workspace
from tests.factories import make_travel_model
from tests.isolation.probes import Probe

_counter = iter(range(1, 10**6))

RULE = {"entity": "customer", "rule": {"all": [{"attr": "country", "op": "in", "value": ["NL", "DE"]},
                                               {"related": "bookings", "exists": True}]}}


def _travel(ws: Workspace) -> dict[str, Any]:
    if not Entity.objects.filter(workspace=ws, key="customer").exists():
        make_travel_model(ws)
    return {}


def _audience(ws: Workspace) -> dict[str, Any]:
    _travel(ws)
    audience = services.audience_create(workspace=ws, actor=None, name=f"Probe audience {next(_counter)}",
                                        definition=RULE)
    return {"pk": audience.pk}


def _new_audience(ws: Workspace) -> dict[str, Any]:
    return {"name": f"Created {next(_counter)}", "description": "From the probe", "definition": RULE}


def _upload(ws: Workspace) -> dict[str, Any]:
    return {"name": f"Uploaded {next(_counter)}", "entity": "customer",
            "file": SimpleUploadedFile("keys.csv", b"customer_id\n1\n2\n99\n", content_type="text/csv")}


def _rule(**extra: Any):
    return lambda ws: {"definition": RULE, **extra}


PROBES: list[Probe] = [
    Probe("api-aud-audience-list", {"GET": "viewer", "POST": "marketer"}, setup=_travel, data=_new_audience,
          api=True),
    Probe("api-aud-audience-detail", {"GET": "viewer", "PATCH": "marketer", "DELETE": "marketer"},
          make=_audience, data=lambda ws: {"name": f"Renamed {next(_counter)}", "description": "Changed"},
          api=True),
    Probe("api-aud-audience-count", {"POST": "viewer"}, make=_audience, api=True),  # stores the size
    Probe("api-aud-audience-sample", {"GET": "viewer"}, make=_audience, api=True),
    Probe("api-aud-audience-export", {"GET": "marketer"}, make=_audience, api=True),
    Probe("api-aud-audience-snapshot", {"POST": "marketer"}, make=_audience,
          data=lambda ws: {"name": f"Snapshot {next(_counter)}"}, api=True),
    Probe("api-aud-audience-duplicate", {"POST": "marketer"}, make=_audience, api=True),
    Probe("api-aud-audience-upload", {"POST": "marketer"}, setup=_travel, data=_upload, multipart=True, api=True),
    Probe("api-aud-rule-validate", {"POST": "viewer"}, setup=_travel, data=_rule(), writes=False, api=True),
    Probe("api-aud-rule-count", {"POST": "viewer"}, setup=_travel, data=_rule(), writes=False, api=True),
    Probe("api-aud-rule-sample", {"POST": "viewer"}, setup=_travel, data=_rule(limit=5), writes=False, api=True),
    Probe("api-aud-rule-distribution", {"POST": "viewer"}, setup=_travel, data=_rule(attribute="country"),
          writes=False, api=True),
    Probe("api-aud-rule-group-counts", {"POST": "viewer"}, setup=_travel, data=_rule(path="rule"), writes=False,
          api=True),
    Probe("api-aud-rule-sql", {"POST": "viewer"}, setup=_travel, data=_rule(), writes=False, api=True),
]
