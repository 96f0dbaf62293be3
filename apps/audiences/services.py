"""Writes of audiences: create, change, duplicate, delete; snapshots and uploaded lists
(tables of keys in the workspace schema); CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql

from apps.audiences.rules.definition import check_definition
from apps.core.sqlutil import execute, render
from apps.datamodel import ddl
from apps.datamodel.ingestion.header import resolve_encoding
from apps.datamodel.models import Entity
from apps.tenants.models import Workspace
from apps.tenants.services import audit_record

from . import selectors
from .models import Audience, AudienceOrigin, AudienceStatus

MAX_UPLOAD_SAMPLE = 20
SNAPSHOT_TIMEOUT_MS = 30 * 60 * 1000


def _actor(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def _clean_name(workspace: Workspace, name: str, exclude: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the audience a name."})
    if len(name) > 200:
        raise ValidationError({"name": "At most 200 characters."})
    clash = Audience.objects.filter(workspace=workspace, name=name)
    if exclude:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise ValidationError({"name": f"An audience named {name!r} already exists."})
    return name


def audience_create(*, workspace: Workspace, actor: Any, name: str, definition: dict, description: str = "") -> Audience:
    """A rule audience: re-evaluated whenever it is used."""
    checked = check_definition(workspace=workspace, definition=definition)
    audience = Audience.objects.create(
        workspace=workspace, name=_clean_name(workspace, name), description=description, entity=checked.result_entity,
        origin=AudienceOrigin.RULE, definition=definition, created_by=_actor(actor), updated_by=_actor(actor))
    audit_record(workspace=workspace, actor=actor, verb="audience.created", target=audience,
                 data={"entity": checked.result_entity.key})
    return audience


def audience_update(*, workspace: Workspace, actor: Any, audience: Audience, name: str | None = None,
                    description: str | None = None, definition: dict | None = None) -> Audience:
    if name is not None:
        audience.name = _clean_name(workspace, name, exclude=audience.pk)
    if description is not None:
        audience.description = description
    if definition is not None:
        if audience.is_list:
            raise ValidationError({"definition": "An uploaded list or snapshot has no rule to change."})
        checked = check_definition(workspace=workspace, definition=definition, visiting={audience.pk})
        if checked.result_entity.pk != audience.entity_id and selectors.audience_usages(audience):
            raise ValidationError({"definition": "This audience is used elsewhere: its entity cannot change."})
        audience.definition = definition
        audience.entity = checked.result_entity
        audience.size = None
    audience.updated_by = _actor(actor)
    audience.save()
    audit_record(workspace=workspace, actor=actor, verb="audience.updated", target=audience)
    return audience


class AudienceInUse(ValidationError):
    """The audience is used elsewhere (another audience's rule, a campaign)."""


def audience_delete(*, workspace: Workspace, actor: Any, audience: Audience) -> None:
    """Refused while something uses it."""
    uses = selectors.audience_usages(audience)
    if uses:
        raise AudienceInUse(f"{audience.name!r} cannot be deleted: it is used by {', '.join(uses)}.")
    with transaction.atomic():
        if audience.is_list:
            execute(sql.SQL("DROP TABLE IF EXISTS {}").format(selectors.key_table(audience)))
        audit_record(workspace=workspace, actor=actor, verb="audience.deleted", target=audience)
        audience.delete()


def audience_duplicate(*, workspace: Workspace, actor: Any, audience: Audience, name: str = "") -> Audience:
    """A copy under a new name (a list's keys are copied too)."""
    if audience.status != AudienceStatus.READY:
        # A building or failed snapshot has no table of keys to copy.
        raise ValidationError(f"{audience.name!r} is {audience.get_status_display().lower()}: "
                              f"only a ready audience can be duplicated.")
    base = name or f"{audience.name} (copy)"
    candidate, n = base, 2
    while not name and Audience.objects.filter(workspace=workspace, name=candidate).exists():
        candidate, n = f"{base} {n}", n + 1
    with transaction.atomic():
        copy = Audience.objects.create(
            workspace=workspace, name=_clean_name(workspace, candidate), description=audience.description,
            entity=audience.entity, origin=audience.origin, definition=audience.definition, size=audience.size,
            last_evaluated_at=audience.last_evaluated_at, upload_report=audience.upload_report,
            created_by=_actor(actor), updated_by=_actor(actor))
        if audience.is_list:
            execute(sql.SQL("CREATE TABLE {} AS TABLE {}").format(selectors.key_table(copy),
                                                                   selectors.key_table(audience)))
            execute(sql.SQL("ALTER TABLE {} ADD PRIMARY KEY (key)").format(selectors.key_table(copy)))
        audit_record(workspace=workspace, actor=actor, verb="audience.duplicated", target=copy,
                     data={"from": audience.pk})
    return copy


def audience_record_count(*, audience: Audience, result: selectors.Count) -> None:
    """Remember the size of a rule audience after an evaluation."""
    Audience.objects.filter(pk=audience.pk).update(size=result.count, last_evaluated_at=timezone.now(),
                                                   last_evaluation_ms=result.ms)


def _key_table_create(audience: Audience, entity: Entity) -> None:
    pk = entity.attributes.get(is_primary_key=True)
    execute(sql.SQL("DROP TABLE IF EXISTS {}").format(selectors.key_table(audience)))
    execute(sql.SQL("CREATE TABLE {} (key {} PRIMARY KEY)").format(selectors.key_table(audience),
                                                                   ddl.sql_type(pk.type)))


def snapshot_create(*, workspace: Workspace, actor: Any, name: str, definition: dict | None = None,
                    source: Audience | None = None, enqueue: bool = True) -> Audience:
    """Freeze the keys an audience (or a definition) matches now. Large evaluations run in
    a worker: the snapshot shows 'building' until its keys are stored."""
    if source is not None:
        definition = source.definition if not source.is_list else {
            "entity": source.entity.key, "rule": {"in_audience": source.pk}}
    checked = check_definition(workspace=workspace, definition=definition)
    audience = Audience.objects.create(
        workspace=workspace, name=_clean_name(workspace, name), entity=checked.result_entity,
        origin=AudienceOrigin.SNAPSHOT, definition=definition, status=AudienceStatus.BUILDING,
        source_audience=source, created_by=_actor(actor), updated_by=_actor(actor))
    audit_record(workspace=workspace, actor=actor, verb="audience.snapshot_started", target=audience)
    if enqueue:
        from .tasks import build_snapshot  # noqa: PLC0415

        transaction.on_commit(lambda: build_snapshot.delay(audience.pk))
    return audience


def snapshot_build(*, audience_id: int) -> Audience | None:
    """Fill a snapshot's key table (once: a snapshot that is not building is left alone)."""
    claimed = Audience.objects.filter(pk=audience_id, status=AudienceStatus.BUILDING).select_related(
        "workspace", "entity").first()
    if claimed is None:
        return None
    try:
        with transaction.atomic():
            locked = Audience.objects.select_for_update(skip_locked=True).filter(
                pk=audience_id, status=AudienceStatus.BUILDING).first()
            if locked is None:
                return None
            checked = check_definition(workspace=claimed.workspace, definition=claimed.definition)
            query = selectors.keys_query(definition=checked)
            _key_table_create(claimed, claimed.entity)
            with connection.cursor() as cursor:
                selectors.apply_settings(cursor, query.settings, timeout_ms=SNAPSHOT_TIMEOUT_MS)
                cursor.execute(render(sql.SQL("INSERT INTO {} (key) {}").format(
                    selectors.key_table(claimed), sql.SQL(query.sql))), query.params)
                size = cursor.rowcount
            Audience.objects.filter(pk=audience_id).update(
                status=AudienceStatus.READY, size=size, last_evaluated_at=timezone.now(), status_message="")
    except Exception as exc:  # noqa: BLE001 - the snapshot must end as failed, with the reason
        # A rule that no longer fits the model says where; anything else names its kind.
        reason = "; ".join(exc.messages) if isinstance(exc, ValidationError) else f"{type(exc).__name__}: {exc}"
        Audience.objects.filter(pk=audience_id).update(status=AudienceStatus.FAILED, status_message=reason[:2000])
    return Audience.objects.get(pk=audience_id)


def upload_create(*, workspace: Workspace, actor: Any, name: str, entity: Entity, stream: IO[bytes],
                  column: str | None = None, encoding: str = "utf-8", delimiter: str = ",") -> Audience:
    """A list audience from a CSV of keys (the column named like the entity's key, or
    `column`, or the only column). Keys not in the entity are reported, not kept."""
    codec, _ = resolve_encoding(encoding)
    pk = entity.attributes.get(is_primary_key=True)
    text = io.TextIOWrapper(stream, encoding=codec, errors="strict", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError({"file": "The file is empty."}) from None
    except UnicodeDecodeError:
        raise ValidationError({"file": f"The file is not valid {encoding} text."}) from None
    header = [h.strip().lstrip("\ufeff") for h in header]
    wanted = column or (pk.key if pk.key in header else (header[0] if len(header) == 1 else None))
    if wanted not in header:
        raise ValidationError({"column": f"Name the column holding {entity.key} keys; the file has: "
                                         f"{', '.join(header)}."})
    index = header.index(wanted)
    with transaction.atomic():
        audience = Audience.objects.create(
            workspace=workspace, name=_clean_name(workspace, name), entity=entity, origin=AudienceOrigin.UPLOAD,
            definition={"entity": entity.key}, created_by=_actor(actor), updated_by=_actor(actor))
        _key_table_create(audience, entity)
        raw = connection.connection
        with raw.cursor() as cur:
            cur.execute("CREATE TEMP TABLE _aud_upload (line bigint, key text) ON COMMIT DROP")
            try:
                with cur.copy("COPY _aud_upload (line, key) FROM STDIN") as copy:
                    for row in reader:
                        value = row[index].strip() if index < len(row) else ""
                        if "\x00" in value:  # PostgreSQL text cannot hold it
                            raise ValidationError({"file": f"Line {reader.line_num}: a key cannot contain a NUL "
                                                           f"character."})
                        if value:
                            copy.write_row([reader.line_num, value])
            except UnicodeDecodeError:
                raise ValidationError({"file": f"The file is not valid {encoding} text."}) from None
            except csv.Error as exc:
                raise ValidationError({"file": f"Line {reader.line_num}: not valid CSV ({exc})."}) from None
            typed = sql.Literal(ddl.SQL_TYPES[pk.type])
            cur.execute(sql.SQL(
                "SELECT count(*), count(*) FILTER (WHERE NOT pg_input_is_valid(key, {t})) FROM _aud_upload").format(
                t=typed))
            uploaded, invalid = cur.fetchone()
            cur.execute(sql.SQL(
                "INSERT INTO {kt} (key) SELECT DISTINCT u.key::{st} FROM _aud_upload u "
                "WHERE pg_input_is_valid(u.key, {t}) AND EXISTS (SELECT 1 FROM {table} e WHERE e.{pk} = u.key::{st})"
            ).format(kt=selectors.key_table(audience), st=ddl.sql_type(pk.type), t=typed, table=ddl.table(entity),
                     pk=ddl.column(pk)))
            matched = cur.rowcount
            cur.execute(sql.SQL(
                "SELECT u.line, u.key FROM _aud_upload u WHERE NOT pg_input_is_valid(u.key, {t}) OR NOT EXISTS "
                "(SELECT 1 FROM {table} e WHERE e.{pk} = u.key::{st}) ORDER BY u.line LIMIT %s").format(
                t=typed, table=ddl.table(entity), pk=ddl.column(pk), st=ddl.sql_type(pk.type)), [MAX_UPLOAD_SAMPLE])
            unmatched_sample = [{"line": line, "key": key} for line, key in cur.fetchall()]
            cur.execute(sql.SQL(
                "SELECT count(*) FROM _aud_upload u WHERE NOT pg_input_is_valid(u.key, {t}) OR NOT EXISTS "
                "(SELECT 1 FROM {table} e WHERE e.{pk} = u.key::{st})").format(
                t=typed, table=ddl.table(entity), pk=ddl.column(pk), st=ddl.sql_type(pk.type)))
            (unmatched,) = cur.fetchone()
            cur.execute("DROP TABLE _aud_upload")
        report = {"uploaded": uploaded, "matched": matched, "unmatched": unmatched, "invalid": invalid,
                  "duplicates": uploaded - unmatched - matched, "unmatched_sample": unmatched_sample,
                  "column": wanted}
        Audience.objects.filter(pk=audience.pk).update(size=matched, last_evaluated_at=timezone.now(),
                                                       upload_report=report)
        audit_record(workspace=workspace, actor=actor, verb="audience.uploaded", target=audience,
                     data={k: v for k, v in report.items() if k != "unmatched_sample"})
    audience.refresh_from_db()
    return audience


def export_rows(*, audience: Audience, attributes: list[str] | None = None) -> Iterator[bytes]:
    """The audience's records as CSV (chosen attributes; cells that a spreadsheet would
    run as formulas are prefixed with a quote), streamed from PostgreSQL."""
    checked = selectors.definition_of(audience)
    query = selectors.keys_query(definition=checked)
    entity = query.entity
    by_key = checked.schema.attributes[entity.pk]
    chosen = attributes or list(by_key)
    unknown = [a for a in chosen if a not in by_key]
    if unknown:
        raise ValidationError({"attributes": f"{entity.key} has no attribute(s) {', '.join(unknown)}."})
    cells = sql.SQL(", ").join(_export_cell(by_key[a]) for a in chosen)
    statement = sql.SQL("COPY (SELECT {cells} FROM {t} r WHERE r.{pk} IN ({keys}) ORDER BY r.{pk}) "
                        "TO STDOUT (FORMAT csv, HEADER true)").format(
        cells=cells, t=ddl.table(entity), pk=ddl.column(query.key), keys=sql.SQL(query.sql))
    # Checked above, streamed below: a bad choice of attributes is refused when this is
    # called, not halfway through a download.
    return _copy_out(render(statement), query.params)


# Text that a spreadsheet could run as a formula gets a leading quote. Numbers (-5), dates
# and booleans are not text, and phone numbers are held to a shape of digits ("+31 6 ...").
FORMULA_TYPES = {"text", "email", "enum"}


def _export_cell(attribute) -> sql.Composable:
    if attribute.type not in FORMULA_TYPES:
        return sql.SQL("r.{c}::text AS {c}").format(c=ddl.column(attribute))
    return sql.SQL("CASE WHEN r.{c} ~ '^[=+@\\t\\r-]' THEN '''' || r.{c} ELSE r.{c} END AS {c}").format(
        c=ddl.column(attribute))


def _copy_out(statement: str, params: dict[str, Any]) -> Iterator[bytes]:
    # COPY takes no bind parameters on the server: psycopg merges the values into the
    # statement on the client, quoting each, in one pass. (Replacing placeholders one by
    # one with literals would read a value holding "%(p0)s" as a placeholder, and the value
    # put there would land outside any quotes: an injection.)
    with transaction.atomic():
        connection.ensure_connection()
        with connection.connection.cursor() as cur, cur.copy(statement, params) as copy:
            for chunk in copy:
                yield bytes(chunk)


def audience_export(*, workspace: Workspace, actor: Any, audience: Audience,
                    attributes: list[str] | None = None) -> Iterator[bytes]:
    """Export an audience's records as CSV (see export_rows); the export is recorded in
    the audit log, as data leaving the workspace."""
    rows = export_rows(audience=audience, attributes=attributes)
    audit_record(workspace=workspace, actor=actor, verb="audience.exported", target=audience,
                 data={"attributes": attributes or "all"})
    return rows
