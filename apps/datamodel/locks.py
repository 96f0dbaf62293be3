"""The data store's per-entity write lock.

Whoever writes rows of an entity's table in bulk or deletes them (ingestion, record
deletion, a data subject's erasure) holds this lock until its transaction ends: two
loads into one table at once would race between the UPDATE and the INSERT of new keys,
and no row of a profile may be merged in while it is being erased."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import connection

if TYPE_CHECKING:
    from .models import Entity

# Namespace of the two-key advisory lock (the first key; the second is the entity's id).
ENTITY_WRITE_LOCK = 0x0DA7A


def entity_write_lock(entity: Entity) -> None:
    """Wait for, then hold until the transaction ends, the write lock of `entity`'s table.
    Several entities: lock them in id order, so two writers cannot deadlock."""
    if not connection.in_atomic_block:
        raise RuntimeError("the entity write lock is transaction-scoped: take it inside transaction.atomic()")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ENTITY_WRITE_LOCK, entity.pk])
