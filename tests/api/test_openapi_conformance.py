"""The published OpenAPI schema is true: schemathesis generates requests from it for every
operation, sends them to the app in-process (WSGI) with a workspace API key, and checks
that nothing answers 500, every status code is documented and every body matches its
schema. Bounded: a few examples per operation (ORCHESTRATE_SCHEMA_EXAMPLES raises it)."""

from __future__ import annotations

import os
import re
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.urls import Resolver404, resolve
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.tenants.models import ApiKey
from config.wsgi import application
from tests.factories import make_api_key, make_travel_model
from tests.isolation.probes import BY_NAME

EXAMPLES = int(os.environ.get("ORCHESTRATE_SCHEMA_EXAMPLES", "4"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _schema() -> dict:
    response = Client().get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


@contextmanager
def keep_the_test_connection():
    # The WSGI app closes "old" database connections at each request's start and end, which
    # would close the test's own (in its transaction): Django's test client does the same.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _existing_object(operation, workspace) -> dict[str, str] | None:
    """Path parameters naming a real object of the workspace for a detail operation (made by
    the isolation probe of its URL), so the cases reach the view beyond its 404."""
    names = re.findall(r"{(\w+)}", operation.path)
    if set(names) <= {"workspace_slug"}:
        return None
    fake = re.sub(r"{(\w+)}", lambda m: workspace.slug if m[1] == "workspace_slug" else "1", operation.path)
    try:
        match = resolve(fake)
    except Resolver404:
        return None
    probe = BY_NAME.get(match.url_name)
    if probe is None:
        return None
    if probe.setup:
        probe.setup(workspace)
    kwargs = probe.make(workspace)
    values = {"workspace_slug": workspace.slug}
    for name in names:
        key = "pk" if name == "id" and "pk" in kwargs else name
        if key in kwargs:
            values[name] = str(kwargs[key])
    return values if len(values) == len(names) else None


def _exercise(operation, path_parameters, auth, failures: dict[str, str]) -> None:
    label = operation.label

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=path_parameters))
    def run(case):
        try:
            case.call_and_validate(headers=auth(), checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - all collected, reported at the end
            failures.setdefault(label, f"{label}: {type(exc).__name__}: {str(exc)[:1500]}")  # the first is enough

    with keep_the_test_connection():
        run()


@pytest.mark.django_db
def test_every_operation_answers_as_the_schema_says(workspace):
    make_travel_model(workspace, rows=True)
    schema = schemathesis.openapi.from_dict(_schema())
    schema.app = application
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    key = {}

    def auth() -> dict[str, str]:
        # a generated DELETE may revoke the key in use: then the next case gets a new one
        if not key or not ApiKey.objects.filter(pk=key["pk"], revoked_at__isnull=True).exists():
            api_key, key["raw"] = make_api_key(workspace, role="admin")
            key["pk"] = api_key.pk
        return {"Authorization": f"Bearer {key['raw']}"}

    failures: dict[str, str] = {}
    for operation in operations:
        path_parameters = {"workspace_slug": workspace.slug} if "{workspace_slug}" in operation.path else None
        _exercise(operation, path_parameters, auth, failures)
        pinned = _existing_object(operation, workspace)
        if pinned:
            _exercise(operation, pinned, auth, failures)
    assert list(failures.values()) == [], "\n\n".join(failures.values())
