"""python manage.py bench ingest [--rows N] [--file-mb M] [--keep]

Cases (unit rows/s), each beside a raw psycopg COPY of the same file into a bare table
with the same columns (no key, no index, no check), measured in the same run:
- fresh: the demo `customer` file loaded into an empty entity;
- update: a second file with the same keys and changed values, loaded on top;
- fresh-large (with --file-mb): a file of about M MB, for the peak memory of the process.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connection
from psycopg import sql

from apps.datamodel import ddl
from apps.datamodel.demo.generate import TRAVEL, ensure_model, write_csv
from apps.datamodel.ingestion.services import ingestion_job_create, ingestion_job_run
from apps.datamodel.models import Entity
from bench.common import emit, peak_rss_mb, scratch_workspace, timer

CUSTOMER_QUERY = next(query for key, _, query in TRAVEL if key == "customer")
BYTES_PER_ROW = 155  # about, for the demo customer rows: sizes --file-mb


def _dsn() -> str:
    s = connection.settings_dict
    return psycopg.conninfo.make_conninfo(dbname=s["NAME"], user=s["USER"] or None, password=s["PASSWORD"] or None,
                                          host=s["HOST"] or None, port=s["PORT"] or None)


def raw_copy(path: Path, entity: Entity, schema: str, name: str) -> float:
    """The baseline: COPY the file into a bare table of the same column types, committed."""
    columns = sql.SQL(", ").join(sql.SQL("{} {}").format(ddl.column(a), ddl.sql_type(a.type))
                                 for a in entity.attributes.order_by("position", "id"))
    with psycopg.connect(_dsn(), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, name)))
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(schema, name), columns))
        with timer() as t:
            with conn.transaction(), conn.cursor() as cur, path.open("rb") as stream:
                with cur.copy(sql.SQL("COPY {} FROM STDIN (FORMAT csv, HEADER true)").format(
                        sql.Identifier(schema, name))) as copy:
                    while chunk := stream.read(1 << 20):
                        copy.write(chunk)
        conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, name)))
    return t["s"]


def ours(workspace, entity: Entity, path: Path) -> tuple[float, object, float]:
    with path.open("rb") as stream, timer() as stored:
        job = ingestion_job_create(workspace=workspace, actor=None, entity=entity, upload=stream,
                                   name=path.name, enqueue=False)
    with timer() as t:
        job = ingestion_job_run(job_id=job.pk)
    if job.status != "done":
        raise SystemExit(f"ingestion failed: {job.message} {job.errors[:3]}")
    job.file.delete(save=False)
    return t["s"], job, stored["s"]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="manage.py bench ingest")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--file-mb", type=int, default=0, help="also load a file of about this size (memory case)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch workspace")
    args = parser.parse_args(argv)
    with scratch_workspace("bench-ingest", keep=args.keep) as workspace, \
            tempfile.TemporaryDirectory(dir=Path(settings.MEDIA_ROOT).parent) as tmp:
        ensure_model(workspace, "travel")
        entity = Entity.objects.get(workspace=workspace, key="customer")
        schema = f"bench_raw_{workspace.pk}"
        fresh_file, update_file = Path(tmp) / "fresh.csv", Path(tmp) / "update.csv"
        write_csv(CUSTOMER_QUERY, {"rows": args.rows}, fresh_file, seed=0.11)
        write_csv(CUSTOMER_QUERY, {"rows": args.rows}, update_file, seed=0.77)  # same keys, other values
        size_mb = round(fresh_file.stat().st_size / 1e6, 1)

        base = raw_copy(fresh_file, entity, schema, "fresh")
        took, job, stored = ours(workspace, entity, fresh_file)
        emit("ingest", "fresh", "rows/s", args.rows / took, args.rows / base, rows=args.rows, file_mb=size_mb,
             seconds=round(took, 3), baseline_seconds=round(base, 3), path=job.phase, inserted=job.inserted, timings=job.options.get("timings"),
             store_upload_seconds=round(stored, 3), peak_rss_mb=peak_rss_mb())

        base = raw_copy(update_file, entity, schema, "update")
        took, job, stored = ours(workspace, entity, update_file)
        emit("ingest", "update", "rows/s", args.rows / took, args.rows / base, rows=args.rows, file_mb=size_mb,
             seconds=round(took, 3), baseline_seconds=round(base, 3), path=job.phase, updated=job.updated, timings=job.options.get("timings"),
             unchanged=job.unchanged, inserted=job.inserted, store_upload_seconds=round(stored, 3),
             peak_rss_mb=peak_rss_mb())

        if args.file_mb:
            big_rows = args.file_mb * 1_000_000 // BYTES_PER_ROW
            big = Path(tmp) / "large.csv"
            write_csv(CUSTOMER_QUERY, {"rows": big_rows}, big, seed=0.33)
            ddl.table_drop(entity)
            ddl.table_create(entity, entity.attributes.get(is_primary_key=True))
            for attribute in entity.attributes.filter(is_primary_key=False).order_by("position"):
                ddl.column_add(attribute)
            base = raw_copy(big, entity, schema, "large")
            took, job, _ = ours(workspace, entity, big)
            emit("ingest", "fresh-large", "rows/s", big_rows / took, big_rows / base, rows=big_rows,
                 file_mb=round(big.stat().st_size / 1e6, 1), seconds=round(took, 3), baseline_seconds=round(base, 3),
                 path=job.phase, peak_rss_mb=peak_rss_mb())
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)).as_string(
                connection.connection))
