"""Isolation probes for the audience screens (see probes.py for what a probe says).

Every make() creates an entity whose key is unique across workspaces (a counter), so a
rule of the victim's never names an entity of the twin. A body names the newest probe
entity of the workspace it is sent to: data() only reads. The preview endpoints take a
rule in a POST body but only read: `writes=False` makes the harness check that they
change nothing even when allowed."""

from __future__ import annotations

import io
import json
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from apps.audiences import services
from apps.datamodel import services as datamodel_services
from apps.datamodel.ingestion import Options, ingest_csv
from apps.datamodel.models import Entity
from apps.tenants.models import Workspace
from tests.isolation.probes import Probe

_counter = iter(range(1, 10**6))

ROWS = b"id,name,score\n1,Anna,10\n2,Ben,20\n3,=Chloe,5\n"


def _entity(ws: Workspace) -> Entity:
    entity = datamodel_services.entity_create(
        workspace=ws, actor=None, key=f"auui_{next(_counter)}", primary_key={"key": "id", "type": "integer"},
        attributes=[{"key": "name", "type": "text"}, {"key": "score", "type": "integer"}])
    report = ingest_csv(entity=entity, stream=io.BytesIO(ROWS), options=Options())
    assert report.status == "done", report.as_dict()
    return entity


def _newest(ws: Workspace) -> Entity:
    return Entity.objects.filter(workspace=ws, key__startswith="auui_").latest("id")


def _rule(entity_key: str) -> dict[str, Any]:
    return {"entity": entity_key, "rule": {"all": [{"attr": "score", "op": "gte", "value": 10}]}}


def _setup(ws: Workspace) -> dict[str, Any]:
    _entity(ws)
    return {}


def _audience(ws: Workspace) -> dict[str, Any]:
    entity = _entity(ws)
    audience = services.audience_create(workspace=ws, actor=None, name=f"probe rule {next(_counter)}",
                                        definition=_rule(entity.key))
    return {"pk": audience.pk}


def _with_audience(ws: Workspace) -> dict[str, Any]:
    _audience(ws)
    return {}


def _snapshot(ws: Workspace) -> dict[str, Any]:
    entity = _entity(ws)
    snapshot = services.snapshot_create(workspace=ws, actor=None, name=f"probe snapshot {next(_counter)}",
                                        definition=_rule(entity.key), enqueue=False)
    return {"pk": snapshot.pk}


def _definition(ws: Workspace) -> str:
    return json.dumps(_rule(_newest(ws).key))


def _save(ws: Workspace) -> dict[str, Any]:
    return {"definition": _definition(ws), "action": "save", "name": f"probe saved {next(_counter)}",
            "description": ""}


def _upload(ws: Workspace) -> dict[str, Any]:
    return {"name": f"probe list {next(_counter)}", "entity": _newest(ws).key, "column": "",
            "delimiter": ",", "encoding": "utf-8",
            "file": SimpleUploadedFile("keys.csv", b"id\n1\n2\n9\n", content_type="text/csv")}


def _preview(**extra: str):
    return lambda ws: {"definition": _definition(ws), **extra}


PROBES: list[Probe] = [
    Probe("aud-list", {"GET": "viewer"}, setup=_with_audience),
    Probe("aud-new", {"GET": "marketer", "POST": "marketer"}, setup=_setup, data=_save),
    Probe("aud-upload", {"GET": "marketer", "POST": "marketer"}, setup=_setup, data=_upload, multipart=True),
    # previews: a rule in the body, nothing written
    Probe("aud-count", {"POST": "viewer"}, setup=_setup, data=_preview(), writes=False),
    Probe("aud-sample", {"POST": "viewer"}, setup=_setup, data=_preview(), writes=False),
    Probe("aud-sql", {"POST": "viewer"}, setup=_setup, data=_preview(), writes=False),
    Probe("aud-distribution", {"POST": "viewer"}, setup=_setup, data=_preview(attribute="name"), writes=False),
    Probe("aud-groups", {"POST": "viewer"}, setup=_setup, data=_preview(path="rule"), writes=False),
    # one audience
    Probe("aud-detail", {"GET": "viewer"}, make=_audience),
    Probe("aud-edit", {"GET": "marketer", "POST": "marketer"}, make=_audience, data=_save),
    Probe("aud-status", {"GET": "viewer"}, make=_snapshot),
    Probe("aud-evaluate", {"POST": "viewer"}, make=_audience),
    Probe("aud-rename", {"POST": "marketer"}, make=_audience,
          data=lambda ws: {"name": f"probe renamed {next(_counter)}", "description": "by a probe"}),
    Probe("aud-duplicate", {"POST": "marketer"}, make=_audience),
    Probe("aud-delete", {"POST": "marketer"}, make=_audience),
    Probe("aud-snapshot", {"POST": "marketer"}, make=_audience,
          data=lambda ws: {"name": f"probe snapshot {next(_counter)}"}),
    Probe("aud-export", {"POST": "marketer"}, make=_audience, data=lambda ws: {"attributes": ["id", "name"]}),
]
