"""Isolation probes for the data screens (see probes.py for what a probe says).

As for the API probes, every make() creates objects whose keys are unique across
workspaces (a counter), so the victim's entity key never exists in the twin: a probe that
reached the wrong workspace could not pass by finding a look-alike. A body that must name
an object made by make() finds the newest one of the workspace: data() only reads."""

from __future__ import annotations

import io
import json
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile

from apps.datamodel import services
from apps.datamodel.ingestion import Options, ingest_csv
from apps.datamodel.ingestion.services import ingestion_job_create, ingestion_job_run
from apps.datamodel.models import Entity
from apps.tenants.models import Workspace
from tests.isolation.probes import Probe

_counter = iter(range(1, 10**6))

ROWS = b"id,name,email,score\n1,Anna,anna@example.test,10\n2,Ben,,20\n"
CSV_WITH_A_BAD_ROW = b"id,name,score\n1,Anna,5\nx,Ben,6\n3,Chloe,seven\n4,Dan,8\n"


def _entity(ws: Workspace, *, prefix: str = "ui", rows: bool = True) -> Entity:
    entity = services.entity_create(
        workspace=ws, actor=None, key=f"{prefix}_{next(_counter)}", primary_key={"key": "id", "type": "integer"},
        attributes=[{"key": "name", "type": "text"}, {"key": "email", "type": "email"},
                    {"key": "score", "type": "integer"}])
    if rows:
        report = ingest_csv(entity=entity, stream=io.BytesIO(ROWS), options=Options())
        assert report.status == "done", report.as_dict()
    return entity


def _newest(ws: Workspace, prefix: str = "ui") -> Entity:
    return Entity.objects.filter(workspace=ws, key__startswith=f"{prefix}_").latest("id")


def _some_entities(ws: Workspace) -> dict[str, Any]:
    source = _entity(ws, prefix="uisource")
    target = _entity(ws, prefix="uitarget")
    services.relationship_create(workspace=ws, actor=None, source=source, attribute_key="score", target=target,
                                 key="target", reverse_key="sources")
    return {}


def _entity_kwargs(ws: Workspace) -> dict[str, Any]:
    return {"entity_key": _entity(ws).key}


def _attribute_kwargs(ws: Workspace) -> dict[str, Any]:
    return {"entity_key": _entity(ws).key, "attribute_key": "name"}


def _record_kwargs(ws: Workspace) -> dict[str, Any]:
    return {"entity_key": _entity(ws).key, "key": "2"}


def _link_source(ws: Workspace) -> dict[str, Any]:
    _entity(ws, prefix="uitarget")
    return {"entity_key": _entity(ws, prefix="uisource").key}


def _link_body(ws: Workspace) -> dict[str, Any]:
    return {"column": "score", "target": _newest(ws, "uitarget").key, "key": "target", "reverse_key": "sources",
            "kind": "many_to_one"}


def _relationship(ws: Workspace) -> dict[str, Any]:
    source, target = _entity(ws, prefix="uisource"), _entity(ws, prefix="uitarget")
    rel = services.relationship_create(workspace=ws, actor=None, source=source, attribute_key="score", target=target,
                                       key="target", reverse_key="sources")
    return {"pk": rel.pk}


def _profile(ws: Workspace) -> dict[str, Any]:
    entity = _entity(ws, prefix="uiprofile", rows=False)
    services.entity_update(workspace=ws, actor=None, entity=entity, is_profile=True)
    return {"entity_key": entity.key}


def _job(ws: Workspace, *, run: bool) -> dict[str, Any]:
    entity = _entity(ws, rows=False)
    job = ingestion_job_create(workspace=ws, actor=None, entity=entity, upload=io.BytesIO(CSV_WITH_A_BAD_ROW),
                               name="people.csv", mode="skip", max_errors=5, enqueue=False)
    if run:
        job = ingestion_job_run(job_id=job.pk)
        assert job.rejected_file, job.message
    return {"pk": job.pk}


def _new_entity(ws: Workspace) -> dict[str, Any]:
    return {"key": f"created_{next(_counter)}", "label": "Created", "description": "", "pk_key": "id",
            "pk_type": "integer", "attr-TOTAL_FORMS": "2", "attr-INITIAL_FORMS": "0", "attr-MIN_NUM_FORMS": "0",
            "attr-MAX_NUM_FORMS": "1000", "attr-0-key": "name", "attr-0-type": "text", "attr-1-type": "text"}


def _model_document(ws: Workspace) -> dict[str, Any]:
    return {"document": json.dumps({"entities": [
        {"key": f"imported_{next(_counter)}", "primary_key": {"key": "id", "type": "text"},
         "attributes": [{"key": "name", "type": "text"}]}]})}


def _upload(ws: Workspace) -> dict[str, Any]:
    return {"file": SimpleUploadedFile("people.csv", ROWS, content_type="text/csv"), "mode": "reject",
            "max_errors": "100", "delimiter": ",", "encoding": "utf-8", "ignore": ""}


PROBES: list[Probe] = [
    # the model
    Probe("data-model", {"GET": "viewer"}, setup=_some_entities),
    Probe("data-erd", {"GET": "viewer"}, setup=_some_entities),
    Probe("data-model-export", {"GET": "viewer"}, setup=_some_entities),
    Probe("data-model-import", {"POST": "marketer"}, data=_model_document),
    Probe("data-entity-create", {"POST": "marketer"}, data=_new_entity),
    Probe("data-entity", {"GET": "viewer", "POST": "marketer"}, make=_entity_kwargs,
          data=lambda ws: {"label": "Renamed", "description": "Changed by a probe"}),
    Probe("data-entity-delete", {"POST": "marketer"}, make=_entity_kwargs,
          data=lambda ws: {"confirm": _newest(ws).key}),
    Probe("data-attribute-add", {"POST": "marketer"}, make=_entity_kwargs,
          data=lambda ws: {"new-key": "extra", "new-type": "text"}),
    Probe("data-attribute", {"GET": "marketer", "POST": "marketer"}, make=_attribute_kwargs,
          data=lambda ws: {"label": "Full name", "type": "text", "enum_values": ""}),
    Probe("data-attribute-delete", {"GET": "marketer", "POST": "marketer"}, make=_attribute_kwargs,
          data=lambda ws: {"confirm": "name"}),
    Probe("data-relationship-add", {"POST": "marketer"}, make=_link_source, data=_link_body),
    Probe("data-relationship-delete", {"POST": "marketer"}, make=_relationship),
    Probe("data-addresses", {"POST": "marketer"}, make=_profile,
          data=lambda ws: {"email": "email", "first_name": "name"}),
    # the data browser
    Probe("data-records", {"GET": "viewer"}, make=_entity_kwargs),
    Probe("data-record", {"GET": "viewer"}, make=_record_kwargs),
    Probe("data-record-delete", {"POST": "marketer"}, make=_record_kwargs),
    # ingestion
    Probe("data-upload-start", {"GET": "marketer"}, setup=_some_entities),
    Probe("data-upload", {"GET": "marketer", "POST": "marketer"}, make=_entity_kwargs, data=_upload, multipart=True),
    Probe("data-jobs", {"GET": "viewer"}, setup=lambda ws: _job(ws, run=True)),
    Probe("data-job", {"GET": "viewer"}, make=lambda ws: _job(ws, run=True)),
    Probe("data-job-status", {"GET": "viewer"}, make=lambda ws: _job(ws, run=False)),
    Probe("data-job-rejected", {"GET": "viewer"}, make=lambda ws: _job(ws, run=True)),
]
