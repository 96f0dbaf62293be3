"""System checks of the platform's environment."""

from django.core import checks
from django.db import connections

# pg_input_is_valid() (ingestion's validation scan, the data model's type changes) arrived
# in PostgreSQL 16.
MIN_POSTGRES = 160000


@checks.register(checks.Tags.database)
def postgres_version(app_configs=None, databases=None, **kwargs):
    """Refuse a PostgreSQL older than 16 when a command touches the database (migrate,
    `check --database default`), instead of failing later in the first data load."""
    errors = []
    for alias in databases or ():
        connection = connections[alias]
        if connection.vendor != "postgresql":
            errors.append(checks.Error(f"Database {alias!r} is not PostgreSQL.", id="core.E001"))
            continue
        version = connection.pg_version
        if version < MIN_POSTGRES:
            major, minor = divmod(version, 10000)
            errors.append(
                checks.Error(
                    f"PostgreSQL {major}.{minor} on database {alias!r} is too old: "
                    "Orchestrate needs PostgreSQL 16 or newer (pg_input_is_valid).",
                    hint="Point DATABASE_URL at a PostgreSQL 16+ server, or unset it to use "
                    "the embedded one.",
                    id="core.E002",
                )
            )
    return errors
