from django.core import checks
from django.db import connection

from apps.core.checks import postgres_version


def test_the_database_check_passes_on_the_test_server(db):
    assert connection.pg_version >= 160000
    assert postgres_version(databases=["default"]) == []


def test_postgresql_15_is_refused_with_a_clear_error(db, monkeypatch):
    monkeypatch.setattr(connection, "pg_version", 150019, raising=False)
    [error] = postgres_version(databases=["default"])
    assert error.id == "core.E002"
    assert error.msg == (
        "PostgreSQL 15.19 on database 'default' is too old: "
        "Orchestrate needs PostgreSQL 16 or newer (pg_input_is_valid)."
    )


def test_the_check_is_registered_for_database_commands(db, monkeypatch):
    monkeypatch.setattr(connection, "pg_version", 150019, raising=False)
    found = checks.run_checks(tags=[checks.Tags.database], databases=["default"])
    assert [e.id for e in found] == ["core.E002"]
