"""Reading a CSV header and mapping its columns to attributes, before any row is read.
Every problem found here is about the file as a whole (line 1)."""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field

from ..models import Attribute, Entity

CHANGE_COLUMN = "_change"
# Our own rejected-rows export starts with where and why ("line" or "record", then
# "errors"): a user who fixes that file and uploads it again gets these two ignored.
REJECTED_ERRORS_COLUMN = "errors"
REJECTED_WHERE_COLUMNS = ("line", "record")
BOMS = {"utf-8": codecs.BOM_UTF8}
ENCODINGS = {  # what users pick -> (Python codec, PostgreSQL encoding name)
    "utf-8": ("utf-8", "UTF8"),
    "utf8": ("utf-8", "UTF8"),
    "latin-1": ("latin-1", "LATIN1"),
    "latin1": ("latin-1", "LATIN1"),
    "iso-8859-1": ("latin-1", "LATIN1"),
    "windows-1252": ("cp1252", "WIN1252"),
    "cp1252": ("cp1252", "WIN1252"),
}
DELIMITERS = {",", ";", "\t", "|"}
MAX_HEADER_BYTES = 1 << 20

# Per-column date formats: each is rewritten to ISO in SQL, then validated and cast by
# PostgreSQL (so 31/02/2024 is an error, not a silent March 2nd).
# The regex matches the date part at the start of the value; for a datetime attribute the
# rest (" 10:30", "T10:30:00+02:00") is kept as it is and parsed by PostgreSQL.
DATE_FORMATS: dict[str, tuple[str, str]] = {
    "YYYY-MM-DD": (r"^(\d{4})-(\d{1,2})-(\d{1,2})", r"\1-\2-\3"),
    "DD/MM/YYYY": (r"^(\d{1,2})/(\d{1,2})/(\d{4})", r"\3-\2-\1"),
    "MM/DD/YYYY": (r"^(\d{1,2})/(\d{1,2})/(\d{4})", r"\3-\1-\2"),
    "DD-MM-YYYY": (r"^(\d{1,2})-(\d{1,2})-(\d{4})", r"\3-\2-\1"),
    "DD.MM.YYYY": (r"^(\d{1,2})\.(\d{1,2})\.(\d{4})", r"\3-\2-\1"),
    "YYYYMMDD": (r"^(\d{4})(\d{2})(\d{2})", r"\1-\2-\3"),
}


class HeaderError(Exception):
    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(e["reason"] for e in errors))
        self.errors = errors


@dataclass
class Column:
    index: int
    header: str
    attribute: Attribute | None  # None: ignored (or the _change column)
    is_change: bool = False
    date_format: str | None = None

    @property
    def stage_name(self) -> str:
        return f"c{self.index}"


@dataclass
class Layout:
    columns: list[Column]
    encoding: str  # Python codec
    pg_encoding: str
    delimiter: str
    bom: int = 0  # bytes to skip at the start
    warnings: list[str] = field(default_factory=list)

    @property
    def mapped(self) -> list[Column]:
        return [c for c in self.columns if c.attribute is not None]

    @property
    def change(self) -> Column | None:
        return next((c for c in self.columns if c.is_change), None)

    @property
    def pk(self) -> Column:
        return next(c for c in self.columns if c.attribute is not None and c.attribute.is_primary_key)


def normalize(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def resolve_encoding(name: str) -> tuple[str, str]:
    try:
        return ENCODINGS[(name or "utf-8").strip().lower()]
    except KeyError:
        raise HeaderError([{"line": 1, "column": "", "value": name,
                            "reason": f"Unsupported encoding {name!r}: use UTF-8, Latin-1 or Windows-1252."}]) from None


def read_header(head: bytes, *, encoding: str, delimiter: str) -> tuple[list[str], int]:
    """The header fields and the BOM length, from the first bytes of the file."""
    codec, _ = resolve_encoding(encoding)
    if not head.strip():
        raise HeaderError([{"line": 1, "column": "", "value": "", "reason": "The file is empty."}])
    bom = len(codecs.BOM_UTF8) if codec == "utf-8" and head.startswith(codecs.BOM_UTF8) else 0
    first_line = head[bom:].splitlines()[0] if head[bom:].splitlines() else b""
    try:
        text = first_line.decode(codec)
    except UnicodeDecodeError as exc:
        raise HeaderError([{"line": 1, "column": "", "value": "",
                            "reason": f"The header is not valid {encoding} text (byte {exc.start}); "
                                      "choose the file's encoding (e.g. Latin-1)."}]) from None
    fields = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    return [f.strip() for f in fields], bom


def plan_columns(entity: Entity, headers: list[str], *, mapping: dict[str, str | None] | None,
                 date_formats: dict[str, str] | None, delimiter: str, deletes_only: bool = False) -> list[Column]:
    """Map each header to an attribute (by key, label or an explicit mapping). A batch of
    deletes only (deletes_only) needs the primary key, not the required columns."""
    attributes = list(entity.attributes.all())
    by_key = {a.key: a for a in attributes}
    by_norm = {**{normalize(a.label): a for a in attributes}, **{normalize(a.key): a for a in attributes}}
    mapping = mapping or {}
    date_formats = date_formats or {}
    errors: list[dict] = []
    columns: list[Column] = []
    used: dict[str, str] = {}
    our_export = len(headers) >= 2 and headers[0] in REJECTED_WHERE_COLUMNS \
        and headers[1] == REJECTED_ERRORS_COLUMN
    for index, header in enumerate(headers):
        if our_export and index < 2 and header not in mapping and header not in by_key:
            columns.append(Column(index, header, None))  # the export's where and why: not data
            continue
        if header == CHANGE_COLUMN:
            columns.append(Column(index, header, None, is_change=True))
            continue
        if header in mapping:
            target = mapping[header]
            if not target:
                columns.append(Column(index, header, None))
                continue
            attribute = by_key.get(target)
            if attribute is None:
                errors.append({"line": 1, "column": header, "value": target,
                               "reason": f"Column {header!r} is mapped to {target!r}, which {entity.key} does not have."})
                continue
        else:
            attribute = by_key.get(header) or by_norm.get(normalize(header))
            if attribute is None:
                hint = ""
                for other in DELIMITERS - {delimiter}:
                    if other in header:
                        hint = f" The header contains {other!r}: is that the delimiter?"
                        break
                errors.append({"line": 1, "column": header, "value": "",
                               "reason": f"Unknown column {header!r}: {entity.key} has no such attribute; "
                                         f"map it to one or ignore it.{hint}"})
                continue
        if attribute.key in used:
            errors.append({"line": 1, "column": header, "value": "",
                           "reason": f"Columns {used[attribute.key]!r} and {header!r} both map to {attribute.key}."})
            continue
        used[attribute.key] = header
        fmt = date_formats.get(attribute.key)
        if fmt:
            if attribute.type not in ("date", "datetime"):
                errors.append({"line": 1, "column": header, "value": fmt,
                               "reason": f"A date format was given for {attribute.key}, which is {attribute.type}."})
            elif fmt not in DATE_FORMATS:
                errors.append({"line": 1, "column": header, "value": fmt,
                               "reason": f"Date format {fmt!r} is not one of {', '.join(DATE_FORMATS)}."})
        columns.append(Column(index, header, attribute, date_format=fmt or None))
    for attribute in attributes:
        if attribute.key in used:
            continue
        if attribute.is_primary_key:
            errors.append({"line": 1, "column": attribute.key, "value": "",
                           "reason": f"The primary key column {attribute.key!r} is missing."})
        elif attribute.required and not deletes_only:
            errors.append({"line": 1, "column": attribute.key, "value": "",
                           "reason": f"The required column {attribute.key!r} is missing."})
    if errors:
        raise HeaderError(errors)
    return columns
