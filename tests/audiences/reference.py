"""The oracle: rules evaluated in plain Python over rows loaded from the tables, following
the semantics documented in apps/audiences/rules/definition.py, written independently of the
SQL compiler (its date arithmetic included)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection

from apps.audiences.rules.definition import AttrCond, AudienceCond, Definition, Group, RelatedCond

TEXT = {"text", "email", "phone", "enum"}


def _months(day, n):
    y, m = divmod(day.month - 1 + n, 12)
    year, month = day.year + y, m + 1
    for last in (31, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=min(day.day, last))
        except ValueError:
            continue
    raise AssertionError


def _is_leap(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def fold(text: str) -> str:
    """The case fold of the i-operators, as documented: PostgreSQL's lower() (the database's
    own case mapping, which Python's str.lower does not reproduce: "İ", final sigma), with
    final sigma folded like sigma. Asked of PostgreSQL once per distinct text."""
    if text not in _FOLDED:
        with connection.cursor() as cursor:
            cursor.execute("SELECT lower(%s)", [text])
            _FOLDED[text] = cursor.fetchone()[0].replace("\u03c2", "\u03c3")
    return _FOLDED[text]


_FOLDED: dict[str, str] = {}


def _shift(moment, n, unit):
    if unit == "months":
        return _months(moment, n)
    return moment + dt.timedelta(days=n * 7 if unit == "weeks" else n)


class Reference:
    def __init__(self, definition: Definition, now: dt.datetime):
        self.schema = definition.schema
        self.zone = ZoneInfo(self.schema.workspace.time_zone)
        self.now = now.astimezone(self.zone)
        self.today = self.now.date()
        self.rows: dict[int, list[dict]] = {}
        self.by_key: dict[int, dict] = {}
        for entity in self.schema.entities.values():
            attributes = list(self.schema.attributes[entity.pk].values())
            with connection.cursor() as cursor:
                cursor.execute(f'SELECT {", ".join(chr(34) + a.key + chr(34) for a in attributes)} '
                               f'FROM "ws_{entity.workspace_id}"."{entity.key}"')
                rows = [dict(zip([a.key for a in attributes], r, strict=True)) for r in cursor.fetchall()]
            self.rows[entity.pk] = rows
            pk = self.schema.pk(entity).key
            self.by_key[entity.pk] = {r[pk]: r for r in rows}

    def keys(self, definition: Definition) -> set:
        entity = definition.entity
        pk = self.schema.pk(entity).key
        matched = {r[pk] for r in self.rows[entity.pk] if definition.rule is None or self.match(definition.rule, entity, r)}
        for rel, direction in definition.dimension:
            if direction == "up":
                parents = self.by_key[rel.target.pk]
                source_rows = self.by_key[entity.pk]
                matched = {source_rows[k][rel.attribute.key] for k in matched
                           if source_rows[k][rel.attribute.key] in parents}
                entity = rel.target
            else:
                child_pk = self.schema.pk(rel.source).key
                matched = {r[child_pk] for r in self.rows[rel.source.pk] if r[rel.attribute.key] in matched}
                entity = rel.source
        return matched

    def match(self, node, entity, row) -> bool:
        if isinstance(node, Group):
            results = [self.match(c, entity, row) for c in node.children]
            if node.kind == "not":
                return not results[0]
            return all(results) if node.kind == "all" else any(results)
        if isinstance(node, AttrCond):
            for rel in node.links:
                fk = row.get(rel.attribute.key)
                if fk is None or fk not in self.by_key[rel.target.pk]:
                    return False
                row = self.by_key[rel.target.pk][fk]
            return self.predicate(node, row[node.attribute.key])
        if isinstance(node, RelatedCond):
            return self.related(node, entity, row)
        if isinstance(node, AudienceCond):
            raise NotImplementedError("audience references are tested separately")
        raise TypeError(node)

    def related(self, node: RelatedCond, entity, row) -> bool:
        rel = node.relationship
        key = row[self.schema.pk(entity).key]
        children = [c for c in self.rows[rel.source.pk] if c[rel.attribute.key] == key and key is not None]
        if node.where is not None:
            children = [c for c in children if self.match(node.where, rel.source, c)]
        if node.agg is None:
            return bool(children) == node.exists
        if node.agg == "count":
            measure = len(children)
        else:
            values = [c[node.attribute.key] for c in children if c[node.attribute.key] is not None]
            if node.agg == "sum":
                measure = sum(values, Decimal(0))
            elif not values:
                return False
            elif node.agg == "avg":
                measure = sum(values, Decimal(0)) / len(values)
            else:
                measure = min(values) if node.agg == "min" else max(values)
        return self.compare(node.op, measure, node.value)

    @staticmethod
    def compare(op, left, right) -> bool:
        if op == "between":
            return right[0] <= left <= right[1]
        return {"eq": left == right, "ne": left != right, "lt": left < right, "lte": left <= right,
                "gt": left > right, "gte": left >= right}[op]

    def predicate(self, node: AttrCond, v) -> bool:
        op, value, kind = node.op, node.value, node.attribute.type
        if op == "is_empty":
            return v is None or (kind in TEXT and v == "")
        if op == "is_not_empty":
            return not (v is None or (kind in TEXT and v == ""))
        empty = v is None or (kind in TEXT and v == "")
        if kind in TEXT and op in ("eq", "in"):  # '' in a rule is the empty value
            wanted = value if op == "in" else [value]
            return (empty and "" in wanted) or (not empty and v in wanted)
        if empty:
            return False
        if kind in TEXT and op in ("ne", "not_in"):
            return v not in (value if op == "not_in" else [value])
        if op in ("eq", "ne", "lt", "lte", "gt", "gte", "between"):
            return self.compare(op, v, value)
        if op == "in":
            return v in value
        if op == "not_in":
            return v not in value
        if op == "is_true":
            return v is True
        if op == "is_false":
            return v is False
        if op == "contains":
            return value in v
        if op == "not_contains":
            return value not in v
        if op == "starts_with":
            return v.startswith(value)
        if op == "ends_with":
            return v.endswith(value)
        if op == "ieq":
            return fold(v) == fold(value)
        if op == "icontains":
            return fold(value) in fold(v)
        if op == "istarts_with":
            return fold(v).startswith(fold(value))
        if op == "iends_with":
            return fold(v).endswith(fold(value))
        is_date = kind == "date"
        local_day = v if is_date else v.astimezone(self.zone).date()
        if op in ("before", "after", "on"):
            return {"before": local_day < value, "after": local_day > value, "on": local_day == value}[op]
        anchor = self.today if is_date else self.now
        if op == "in_last":
            return _shift(anchor, -value, node.unit) <= v <= anchor
        if op == "in_next":
            return anchor <= v <= _shift(anchor, value, node.unit)
        if op == "more_than_ago":
            return v < _shift(anchor, -value, node.unit)
        if op == "anniversary_in_next":
            # The next anniversary, computed by walking the days of the window: a year has
            # every anniversary; 29 February falls on 28 February in a year without it.
            end = self.today + dt.timedelta(days=value)
            day = self.today
            while day <= end:
                if (day.month, day.day) == (local_day.month, local_day.day):
                    return True
                if (local_day.month, local_day.day) == (2, 29) and (day.month, day.day) == (2, 28) \
                        and not _is_leap(day.year):
                    return True
                day += dt.timedelta(days=1)
            return False
        raise ValueError(op)
