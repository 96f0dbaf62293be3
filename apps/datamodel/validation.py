"""Names a user types become SQL identifiers: they are checked here, before any DDL."""

from __future__ import annotations

import re
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.db import connection

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Names the platform itself uses in templates, rules and working tables.
PLATFORM_RESERVED = {"oid", "ctid", "xmin", "xmax", "cmin", "cmax", "tableoid"}

# A plain character class: bounded repetitions ({4,30}) make PostgreSQL's regex engine
# several times slower per value, and the length is checked separately.
PHONE_PATTERN = r"^\+?[0-9][0-9 ().-]*$"


@lru_cache(maxsize=1)
def sql_reserved_words() -> frozenset[str]:
    """PostgreSQL's reserved key words, from the server itself."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T')")
        return frozenset(row[0] for row in cursor.fetchall())


def validate_identifier(value: str, *, what: str) -> str:
    """A lowercase identifier: letter first, then letters, digits and underscores, at most
    63 characters, and not an SQL reserved word."""
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise ValidationError(
            f"{what} key {value!r} is not valid: use 1-63 lowercase letters, digits and underscores, "
            "starting with a letter (e.g. 'loyalty_tier')."
        )
    if value in sql_reserved_words() or value in PLATFORM_RESERVED:
        raise ValidationError(
            f"{what} key {value!r} is a reserved word in SQL; choose another, e.g. '{value}s' or 'customer_{value}'."
        )
    return value


def validate_enum_values(values: object) -> list[str]:
    if not isinstance(values, list) or not values:
        raise ValidationError("An enum attribute needs a non-empty list of allowed values.")
    cleaned = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError(f"Enum values must be non-empty text; got {value!r}.")
        if len(value) > 200:
            raise ValidationError(f"Enum value {value[:20]!r}... is longer than 200 characters.")
        cleaned.append(value)
    if len(set(cleaned)) != len(cleaned):
        raise ValidationError("Enum values must be unique.")
    return cleaned
