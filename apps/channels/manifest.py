"""The print house's manifest of a direct-mail delivery, written once when the delivery
has sent everything (a FINISH_HOOKS entry): one CSV row per letter with its address, its
file and pages, and up to 50 chosen columns, in postal-code order (postage discounts go
by presorted mail). One SELECT over the messages joined to the profile (and target) rows,
read through a server-side cursor and streamed to the file: no query per letter.

It also drops the batch PDFs that no sent letter points at (a batch rendered, then its
worker killed before the letters were marked sent: those letters went out again in
another batch), so no letter is printed twice."""

from __future__ import annotations

import csv
import io
import logging
import tempfile
from typing import Any

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from psycopg import sql

from apps.audiences.services import FORMULA_TYPES
from apps.core.sqlutil import render
from apps.datamodel import ddl
from apps.datamodel.ingestion import formula_safe
from apps.datamodel.models import AddressMapping
from apps.datamodel.schema import Schema

from .models import ChannelConfig, Delivery, Message
from .providers.directmail import record_file, storage_dir

logger = logging.getLogger(__name__)

MAX_COLUMNS = 50  # the bound: a manifest is for the print house, not an export
FETCH_ROWS = 2000  # rows per round trip of the server-side cursor: memory stays flat
ADDRESS_COLUMNS = ("address_line1", "address_line2", "postal_code", "city", "region", "country")
HEADER = ["message_id", "name", *ADDRESS_COLUMNS, "file", "first_page", "last_page"]
# The cells of HEADER that hold tenant text (the name and the address); the others are ours.
TEXT_CELLS = tuple(range(1, 2 + len(ADDRESS_COLUMNS)))


def chosen_columns(delivery: Delivery) -> list[str]:
    """The delivery's `manifest_columns` (content), else the channel configuration's."""
    names = (delivery.content or {}).get("manifest_columns") or (delivery.options or {}).get("manifest_columns")
    if not names:
        config = ChannelConfig.objects.filter(workspace_id=delivery.workspace_id, channel=delivery.channel).first()
        names = (config.options or {}).get("manifest_columns") if config else None
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",")]
    seen: list[str] = []
    for name in names or []:
        if isinstance(name, str) and name.strip() and name.strip() not in seen:
            seen.append(name.strip())
    return seen[:MAX_COLUMNS]


def _text(column: sql.Composable) -> sql.Composable:
    return sql.SQL("nullif(btrim({}::text), '')").format(column)


def manifest_query(delivery: Delivery) -> tuple[sql.Composable, list[str], list[int]]:
    """The SELECT (one parameter: the delivery id), the CSV header it fills, and the
    positions of its text cells (which a spreadsheet could run as formulas)."""
    schema = Schema.load(delivery.workspace)
    options = delivery.options or {}
    profile = schema.entities.get(options.get("profile"))
    target = schema.entities.get(options.get("target")) if options.get("per_row") else None
    roles = {m.role: m.attribute for m in AddressMapping.objects.filter(workspace_id=delivery.workspace_id)
             .select_related("attribute")}
    joins: list[sql.Composable] = []
    if profile is not None:
        pk = schema.pk(profile)
        joins.append(sql.SQL("LEFT JOIN {t} p ON p.{pk} = m.profile_key::{type}").format(
            t=ddl.table(profile), pk=ddl.column(pk), type=ddl.sql_type(pk.type)))
    if target is not None:
        pk = schema.pk(target)
        joins.append(sql.SQL("LEFT JOIN {t} t ON t.{pk} = m.target_key::{type}").format(
            t=ddl.table(target), pk=ddl.column(pk), type=ddl.sql_type(pk.type)))
    own = set(schema.attributes[profile.pk]) if profile is not None else set()

    def role(name: str) -> sql.Composable:
        attribute = roles.get(name)
        if profile is None or attribute is None or attribute.key not in own:
            return sql.SQL("NULL::text")
        return _text(sql.SQL("p.{}").format(ddl.column(attribute)))

    name = sql.SQL("coalesce({}, nullif(concat_ws(' ', {}, {}), ''))").format(
        role("full_name"), role("first_name"), role("last_name"))
    pages = sql.SQL("split_part(m.provider_id, '#p', 2)")
    select = [sql.SQL("m.id"), name, *(role(r) for r in ADDRESS_COLUMNS),
              sql.SQL("split_part(m.provider_id, '#', 1)"),
              sql.SQL("nullif(split_part({}, '-', 1), '')::int").format(pages),
              sql.SQL("coalesce(nullif(split_part({p}, '-', 2), ''), nullif(split_part({p}, '-', 1), ''))::int")
              .format(p=pages)]
    header, text_cells = list(HEADER), list(TEXT_CELLS)
    for column in chosen_columns(delivery):
        alias, _, key = column.rpartition(".")
        entity = {"": profile, "profile": profile, "target": target or profile}.get(alias)
        attribute = schema.attributes[entity.pk].get(key) if entity is not None else None
        if attribute is None:
            logger.warning("delivery %s: manifest column %r is not an attribute; left out", delivery.pk, column)
            continue
        table_alias = "t" if alias == "target" and target is not None else "p"
        select.append(sql.SQL("{}.{}::text").format(sql.Identifier(table_alias), ddl.column(attribute)))
        if attribute.type in FORMULA_TYPES:
            text_cells.append(len(header))
        header.append(column)
    query = sql.SQL("SELECT {select} FROM {msg} m {joins} WHERE m.delivery_id = %s AND m.status = 'sent' "
                    "ORDER BY {postal} NULLS LAST, {country} NULLS LAST, m.id").format(
        select=sql.SQL(", ").join(select), msg=sql.Identifier(Message._meta.db_table), joins=sql.SQL(" ").join(joins),
        postal=role("postal_code"), country=role("country"))
    return query, header, text_cells


def manifest_write(delivery: Delivery) -> dict[str, Any] | None:
    """Write (or write again) the delivery's manifest and register it in its files."""
    if delivery.channel != "direct_mail":
        return None
    query, header, text_cells = manifest_query(delivery)
    path = f"{storage_dir(delivery)}/manifest-{delivery.pk}.csv"
    rows = 0
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024, mode="w+b") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow([formula_safe(name) for name in header])
        # A server-side cursor needs a transaction; it streams FETCH_ROWS rows at a time.
        with transaction.atomic(), connection.chunked_cursor() as cursor:
            cursor.itersize = FETCH_ROWS
            cursor.execute(render(query), [delivery.pk])
            for row in cursor:
                cells = ["" if value is None else value for value in row]
                for position in text_cells:  # = + - @ first: a spreadsheet would run it
                    cells[position] = formula_safe(cells[position])
                writer.writerow(cells)
                rows += 1
        text.flush()
        size = raw.seek(0, io.SEEK_END)
        raw.seek(0)
        if default_storage.exists(path):
            default_storage.delete(path)
        path = default_storage.save(path, File(raw, name=path.rsplit("/", 1)[-1]))
        text.detach()
    entry = {"name": path.rsplit("/", 1)[-1], "path": path, "kind": "manifest", "letters": rows, "size": size}
    record_file(delivery.pk, entry)
    return entry


def drop_orphans(delivery: Delivery) -> list[str]:
    """Forget (and delete) the batch PDFs that no sent letter points at; keep the letter
    counts of the others exact."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT split_part(provider_id, '#', 1), count(*) FROM {Message._meta.db_table} "
                       "WHERE delivery_id = %s AND status = 'sent' GROUP BY 1", [delivery.pk])
        used = dict(cursor.fetchall())
    dropped = []
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().only("files").get(pk=delivery.pk)
        kept = []
        for entry in locked.files or []:
            if entry.get("kind") == "letters" and entry.get("name") not in used:
                dropped.append(entry["path"])
                continue
            if entry.get("kind") == "letters":
                entry = {**entry, "letters": used[entry["name"]]}
            kept.append(entry)
        Delivery.objects.filter(pk=delivery.pk).update(files=kept)
    for path in dropped:
        default_storage.delete(path)
    return dropped


def on_finish(delivery: Delivery) -> None:
    """FINISH_HOOKS entry: direct-mail deliveries get their manifest."""
    if delivery.channel != "direct_mail" or delivery.proof:
        return
    try:
        drop_orphans(delivery)
        manifest_write(delivery)
    except Exception:  # the letters are sent; the files page shows the manifest missing
        logger.exception("delivery %s: the direct-mail manifest could not be written (manifest_write writes it "
                         "again)", delivery.pk)
