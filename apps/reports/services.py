"""Writes of the reports app."""

from __future__ import annotations

from django.db import connection


def rollups_compact() -> int:
    """Fold the pending deltas into the rollups (beat runs it every minute); how many
    deltas were folded (0 also when another folder holds the lock)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reports_compact()")
        return int(cursor.fetchone()[0])
