"""The values of a rule's conditions, checked and converted before any SQL exists: each
one within what the compiler and PostgreSQL handle, so that counting never fails on a
value that passed the check."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError

from apps.datamodel.models import Attribute
from apps.datamodel.selectors import parse_value

# The days a rule's dates can name: Python's and PostgreSQL's, with a day of margin for the
# compiler. (Numbers need no bound here: PostgreSQL compares a bigint with any numeric, and
# parse_value keeps decimals within numeric's range.)
MIN_DAY, MAX_DAY = dt.date(1, 1, 2), dt.date(9999, 12, 30)
TEXT_TYPES = {"text", "email", "phone", "enum"}
ORDERED = {"lt", "lte", "gt", "gte", "between"}


def scalar(attribute: Attribute, raw: Any, op: str = "eq") -> Any:
    """A single value of a rule as the attribute's Python type; ValidationError if it is not one."""
    if raw is None:  # (a missing bound of between, a null in a list)
        raise ValidationError("a value is missing.")
    if isinstance(raw, (dict, list)):
        raise ValidationError(f"{raw!r} is not a single value.")
    if attribute.type in ("integer", "decimal") and isinstance(raw, bool):
        raise ValidationError(f"{raw!r} is not a number.")
    if attribute.type == "boolean" and not isinstance(raw, bool):
        raise ValidationError(f"{raw!r} is not true or false.")
    if attribute.type in ("date", "datetime") and not isinstance(raw, str):
        # (a number would be read as a basic ISO date: 19850314 -> 1985-03-14)
        raise ValidationError(f"{raw!r} is not a date (YYYY-MM-DD)." if attribute.type == "date" else
                              f"{raw!r} is not a date and time (ISO 8601).")
    if attribute.type in TEXT_TYPES:
        return text(attribute, raw, op)
    value = parse_value(attribute, raw)
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValidationError(f"{raw!r} is not a finite number.")
    if isinstance(value, (dt.date, dt.datetime)):
        in_range(value, raw)
    return value


def text(attribute: Attribute, raw: Any, op: str) -> str:
    """Text is taken exactly as written, never trimmed; '' is the empty value."""
    if not isinstance(raw, str):
        raise ValidationError(f"{raw!r} is not text.")
    if "\x00" in raw:  # PostgreSQL text cannot hold it: refused here, not by the database
        raise ValidationError("a value cannot contain a NUL character.")
    if raw == "":
        if op in ORDERED:
            raise ValidationError("'' is the empty value and has no order; use is_empty or is_not_empty.")
        return raw
    if attribute.type == "enum" and raw not in attribute.enum_values:
        raise ValidationError(f"{raw!r} is not one of {attribute.key}'s values "
                              f"({', '.join(attribute.enum_values[:20])}).")
    return raw


def in_range(value: dt.date, raw: Any) -> None:
    # A day of margin each side: the compiler moves a day to the next one and a moment
    # to the workspace's time zone, and Python's dates end at 9999-12-31.
    try:
        days = [value.date(), value.astimezone(dt.UTC).date()] if isinstance(value, dt.datetime) else [value]
    except OverflowError:  # (in UTC it falls beyond year 9999 or before year 1)
        days = [dt.date.max]
    if not all(MIN_DAY <= day <= MAX_DAY for day in days):
        raise ValidationError(f"{raw!r} is out of range: dates go from {MIN_DAY.isoformat()} "
                              f"to {MAX_DAY.isoformat()}.")


def day(raw: Any) -> dt.date:
    """A day: an ISO date, or the day of an ISO date and time as written."""
    if not isinstance(raw, str):
        raise ValidationError(f"{raw!r} is not a date (YYYY-MM-DD).")
    try:
        value = dt.date.fromisoformat(raw)
    except ValueError:
        try:  # the day of an ISO date and time, as written (no trailing text accepted)
            value = dt.datetime.fromisoformat(raw).date()
        except ValueError:
            raise ValidationError(f"{raw!r} is not a date (YYYY-MM-DD).") from None
    in_range(value, raw)
    return value
