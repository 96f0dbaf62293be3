"""Isolation probes for the data store API (see probes.py for what a probe says).

Every make() creates fresh objects whose keys are unique across workspaces (a counter), so
an entity key of the victim never exists in the twin: a probe that reached the wrong
workspace could not pass by finding a look-alike. A body that must name an object made
by make() (a relationship's entities, an upload's entity) finds the newest one of the
workspace: data() only reads."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from apps.datamodel import services
from apps.datamodel.ingestion.services import ingestion_job_create, ingestion_job_run, records_batch
from apps.datamodel.models import Entity
from apps.tenants.models import Workspace
from tests.factories import make_travel_model
from tests.isolation.probes import Probe

_counter = iter(range(1, 10**6))

ROWS = [{"id": 1, "name": "Anna", "note": "first"}, {"id": 2, "name": "Ben", "note": None}]


def _entity(ws: Workspace, *, prefix: str = "probe", rows: bool = False) -> Entity:
    entity = services.entity_create(
        workspace=ws, actor=None, key=f"{prefix}_{next(_counter)}", primary_key={"key": "id", "type": "integer"},
        attributes=[{"key": "name", "type": "text"}, {"key": "note", "type": "text"}])
    if rows:
        job = records_batch(workspace=ws, actor=None, entity=entity, records=ROWS)
        assert job.status == "done", job.errors
    return entity


def _newest(ws: Workspace, prefix: str) -> Entity:
    return Entity.objects.filter(workspace=ws, key__startswith=f"{prefix}_").latest("id")


def _entity_kwargs(ws: Workspace) -> dict[str, Any]:
    return {"entity_key": _entity(ws, rows=True).key}


def _attribute_kwargs(ws: Workspace) -> dict[str, Any]:
    return {"entity_key": _entity(ws).key, "attribute_key": "note"}


def _link_pair(ws: Workspace) -> dict[str, Any]:
    _entity(ws, prefix="probe_target")
    source = _entity(ws, prefix="probe_source")
    services.attribute_add(workspace=ws, actor=None, entity=source, spec={"key": "target_id", "type": "integer"})
    return {}


def _link_body(ws: Workspace) -> dict[str, Any]:
    return {"source": _newest(ws, "probe_source").key, "attribute": "target_id",
            "target": _newest(ws, "probe_target").key, "key": "target", "reverse_key": "sources"}


def _relationship(ws: Workspace) -> dict[str, Any]:
    _link_pair(ws)
    body = _link_body(ws)
    source, target = (Entity.objects.get(workspace=ws, key=body[k]) for k in ("source", "target"))
    relationship = services.relationship_create(workspace=ws, actor=None, source=source, attribute_key="target_id",
                                                target=target, key="target", reverse_key="sources")
    return {"pk": relationship.pk}


def _profile(ws: Workspace) -> dict[str, Any]:
    if not Entity.objects.filter(workspace=ws, key="customer").exists():
        make_travel_model(ws, rows=False)
    return {}


CSV = b"id,name,note\n1,Anna,first\nx,Ben,second\n3,Chloe,third\n"


def _job(ws: Workspace, *, run: bool) -> dict[str, Any]:
    entity = _entity(ws)
    job = ingestion_job_create(workspace=ws, actor=None, entity=entity, upload=io.BytesIO(CSV), name="people.csv",
                               mode="skip", max_errors=5, enqueue=False)
    if run:
        job = ingestion_job_run(job_id=job.pk)
        assert job.rejected_file, job.message
    return {"pk": job.pk}


def _some_entity(ws: Workspace) -> dict[str, Any]:
    _entity(ws)
    return {}


def _upload(ws: Workspace) -> dict[str, Any]:
    return {"entity": _newest(ws, "probe").key, "mode": "skip",
            "file": SimpleUploadedFile("people.csv", CSV, content_type="text/csv")}


PROBES: list[Probe] = [
    Probe("api-data-entity-list", {"GET": "viewer", "POST": "marketer"}, api=True,
          data=lambda ws: {"key": f"created_{next(_counter)}", "primary_key": {"key": "id", "type": "integer"},
                           "attributes": [{"key": "name", "type": "text"}]}),
    Probe("api-data-entity-detail", {"GET": "viewer", "PATCH": "marketer", "DELETE": "marketer"},
          make=_entity_kwargs, data=lambda ws: {"label": "Renamed"}, query=lambda kw: {"confirm": kw["entity_key"]},
          api=True),
    Probe("api-data-attribute-list", {"GET": "viewer", "POST": "marketer"}, make=lambda ws: {
        "entity_key": _entity(ws).key}, data=lambda ws: {"key": "extra", "type": "integer"}, api=True),
    Probe("api-data-attribute-detail", {"GET": "viewer", "PATCH": "marketer", "DELETE": "marketer"},
          make=_attribute_kwargs, data=lambda ws: {"label": "Remark", "required": False},
          query=lambda kw: {"confirm": kw["attribute_key"]}, api=True),
    Probe("api-data-relationship-list", {"GET": "viewer", "POST": "marketer"}, setup=_link_pair, data=_link_body,
          api=True),
    Probe("api-data-relationship-detail", {"GET": "viewer", "DELETE": "marketer"}, make=_relationship, api=True),
    Probe("api-data-model", {"GET": "viewer", "POST": "marketer"}, api=True, data=lambda ws: {"entities": [
        {"key": f"imported_{next(_counter)}", "primary_key": {"key": "id", "type": "text"}}]}),
    Probe("api-data-addresses", {"GET": "viewer", "PUT": "marketer"}, setup=_profile,
          data=lambda ws: {"addresses": {"email": "email", "phone": "phone"}}, api=True),
    Probe("api-data-record-list", {"GET": "viewer"}, make=_entity_kwargs, api=True),
    Probe("api-data-record-batch", {"POST": "marketer"}, make=_entity_kwargs, api=True,
          data=lambda ws: {"records": [{"id": 3, "name": "Chloe"}, {"id": 1, "_change": "delete"}]}),
    Probe("api-data-record-detail", {"GET": "viewer", "DELETE": "marketer"},
          make=lambda ws: {**_entity_kwargs(ws), "record_key": "2"}, api=True),
    Probe("api-data-ingestionjob-list", {"GET": "viewer", "POST": "marketer"}, setup=_some_entity, data=_upload,
          multipart=True, api=True),
    Probe("api-data-ingestionjob-detail", {"GET": "viewer"}, make=lambda ws: _job(ws, run=False), api=True),
    Probe("api-data-ingestionjob-rejected-rows", {"GET": "viewer"}, make=lambda ws: _job(ws, run=True), api=True),
]
