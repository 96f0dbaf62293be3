"""Deleting data-store rows for the layers above (a data subject's erasure): one
statement under the entity's write lock, not audited (the caller's audit entry says why),
and only the caller's workspace's entities."""

from __future__ import annotations

import pytest
from psycopg import sql

from apps.core.sqlutil import fetchall, fetchone
from apps.datamodel import ddl
from apps.datamodel.locks import ENTITY_WRITE_LOCK, entity_write_lock
from apps.datamodel.services import records_delete
from apps.tenants.models import AuditEvent
from tests.factories import WorkspaceFactory, make_travel_model


def customer_ids(entity) -> list[int]:
    return [row[0] for row in fetchall(sql.SQL("SELECT customer_id FROM {} ORDER BY 1").format(ddl.table(entity)))]


def test_records_delete_deletes_the_matching_rows_and_audits_nothing(workspace):
    # given
    customer = make_travel_model(workspace)["customer"]
    audited = AuditEvent.objects.count()
    # when
    deleted = records_delete(workspace=workspace, entity=customer, where=sql.SQL("t.country = %s"), params=["NL"])
    # then
    assert deleted == 1
    assert customer_ids(customer) == [2, 3]
    assert AuditEvent.objects.count() == audited


def test_records_delete_refuses_an_entity_of_another_workspace_and_deletes_nothing(workspace):
    customer = make_travel_model(workspace)["customer"]
    other = WorkspaceFactory(organization=workspace.organization, name="Second", slug="second")
    with pytest.raises(ValueError):
        records_delete(workspace=other, entity=customer, where=sql.SQL("true"))
    assert customer_ids(customer) == [1, 2, 3]


def test_the_entity_write_lock_is_one_advisory_lock_per_entity_held_by_the_transaction(workspace):
    travel = make_travel_model(workspace, rows=False)  # loading rows would lock each entity
    entity_write_lock(travel["customer"])
    held = fetchone("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                    "AND classid = %s AND objid = %s AND objsubid = 2 AND granted",
                    [ENTITY_WRITE_LOCK, travel["customer"].pk])[0]
    others = fetchone("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                      "AND classid = %s AND objid = %s", [ENTITY_WRITE_LOCK, travel["booking"].pk])[0]
    assert (held, others) == (1, 0)
