"""Running psycopg.sql compositions through Django's connection. Identifiers come from
metadata via sql.Identifier; values are always bound parameters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from psycopg import sql


def render(query: sql.Composable) -> str:
    """The SQL text of a composition (identifiers quoted by psycopg, %s placeholders kept)."""
    connection.ensure_connection()
    return query.as_string(connection.connection)


def execute(query: sql.Composable | str, params: Sequence[Any] | dict | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(render(query) if not isinstance(query, str) else query, params)
        return cursor.rowcount


def fetchall(query: sql.Composable | str, params: Sequence[Any] | dict | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(render(query) if not isinstance(query, str) else query, params)
        return cursor.fetchall()


def fetchone(query: sql.Composable | str, params: Sequence[Any] | dict | None = None) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(render(query) if not isinstance(query, str) else query, params)
        return cursor.fetchone()


def workspace_schema(workspace_id: int) -> str:
    """Each workspace's relational data lives in its own schema."""
    return f"ws_{int(workspace_id)}"
