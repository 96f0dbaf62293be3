"""Options, the report, and small helpers shared by the ingestion modules."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from psycopg import sql

CHUNK_BYTES = 1 << 20  # 1 MiB per write: big enough for COPY throughput, small for memory
PROGRESS_EVERY_BYTES = 8 << 20
# The merge joins the whole stage to the table: with this much memory a million-row hash
# join stays in memory instead of spilling to disk in batches.
INGEST_WORK_MEM = "512MB"
# A load that writes at least this share of a table's rows rebuilds its indexes afterwards
# instead of maintaining them row by row (measured: a million-row update 20% faster).
BULK_SHARE = 0.2
MAX_REPORTED_ERRORS = 1000  # details kept in the report; all are counted
MAX_REJECTED_FILE_ROWS = 100_000
MAX_FIELD_CHARS = 10 << 20  # the csv module's own limit; longer values fail the row
SURROGATES = re.compile("[\udc80-\udcff]")

Progress = Callable[[str, int], None]


@dataclass
class Options:
    mode: str = "reject"  # reject | skip
    max_errors: int = 100
    delimiter: str = ","
    encoding: str = "utf-8"
    mapping: dict[str, str | None] | None = None
    date_formats: dict[str, str] | None = None


@dataclass
class Report:
    status: str = "done"  # done | rejected
    path: str = ""  # direct | staged | robust | json
    rows_seen: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    orphans: int = 0
    duplicates: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""
    rejected_csv: bytes = b""
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase, for benchmarks

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.timings[phase] = round(now - self.timings.pop("_t", now), 4)
        self.timings["_t"] = now

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("rejected_csv", "timings")}
        out["timings"] = {k: v for k, v in self.timings.items() if not k.startswith("_")}
        return out


class _CopyFailed(Exception):
    pass


def _raw():
    connection.ensure_connection()
    return connection.connection


def _exec(cur, query: sql.Composable | str, params: Any = None) -> int:
    cur.execute(query, params)
    return cur.rowcount


def _scalar(cur, query: sql.Composable | str, params: Any = None) -> Any:
    cur.execute(query, params)
    row = cur.fetchone()
    return row[0] if row else None


