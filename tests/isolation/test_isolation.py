"""The isolation harness. For every URL under /w/<slug>/ and /api/v1/workspaces/<slug>/:
an outsider gets 404 (as for a missing object), an object id of another workspace gets 404
under one's own workspace, a member whose role is too low gets 403, and in each case
nothing in the database changed. The lowest allowed role succeeds, and its write really
writes, so no probe passes because its URL or body is broken."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.isolation.plant import PLANTERS, plant, tenant_models
from tests.isolation.probes import BY_NAME, PROBES, Probe
from tests.isolation.world import ROLE_ORDER, World, database_digest

WORKSPACE_PREFIXES = ("w/<slug:workspace_slug>/", "api/v1/workspaces/<slug:workspace_slug>/")
ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _walk(patterns, prefix=""):
    for entry in patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, route)
        elif isinstance(entry, URLPattern):
            yield route, entry.name


def workspace_url_names() -> set[str]:
    names = set()
    for route, name in _walk(get_resolver().url_patterns):
        if route.startswith(WORKSPACE_PREFIXES):
            assert name, f"workspace URL {route!r} has no name; the harness needs one"
            names.add(name)
    return names


def test_every_url_is_probed():
    missing = workspace_url_names() - set(BY_NAME)
    assert not missing, f"workspace URLs without an isolation probe in tests/isolation/probes.py: {sorted(missing)}"
    stale = set(BY_NAME) - workspace_url_names()
    assert not stale, f"probes for URLs that no longer exist: {sorted(stale)}"


def _cases(filter_fn=lambda probe, method: True):
    return [
        pytest.param(probe, method, id=f"{probe.name}-{method}")
        for probe in PROBES
        for method in probe.methods
        if filter_fn(probe, method)
    ]


def _objects(world: World, probe: Probe) -> tuple[dict, dict]:
    """Make the probe's object in both workspaces, interleaved so ids neighbour."""
    if probe.setup is not None:
        probe.setup(world.twin)
        probe.setup(world.victim)
    twin_before = probe.make(world.twin)
    victim = probe.make(world.victim)
    probe.make(world.twin)
    return victim, twin_before


def _url(probe: Probe, workspace, kwargs: dict) -> str:
    url = reverse(probe.name, kwargs={"workspace_slug": workspace.slug, **kwargs})
    return f"{url}?{urlencode(probe.query(kwargs))}" if probe.query else url


def _client(user=None, key: str | None = None) -> Client:
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}") if key else Client()
    if user is not None:
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def _send(client: Client, probe: Probe, method: str, url: str, workspace):
    data = probe.data(workspace) if method not in ("GET", "DELETE") else {}
    if method == "GET":
        return client.get(url, HTTP_ACCEPT="application/json" if probe.api else "text/html")
    if probe.multipart:
        return client.generic(method, url, encode_multipart(BOUNDARY, data), content_type=MULTIPART_CONTENT)
    if probe.api or method in ("PUT", "PATCH", "DELETE"):
        return client.generic(method, url, json.dumps(data), content_type="application/json")
    return client.post(url, data)


def _rank(role: str) -> int:
    return ROLE_ORDER.index(role)


@pytest.fixture
def world(db):
    return World.build()


@pytest.mark.parametrize("probe,method", _cases())
def test_outsider_gets_404_and_nothing_changes(world, probe, method):
    # given an outsider (owner of another agency whose workspace has the same name)
    victim_kwargs, _ = _objects(world, probe)
    before = database_digest()
    # when they reach for the victim's URL
    response = _send(_client(world.outsider), probe, method, _url(probe, world.victim, victim_kwargs), world.victim)
    # then it does not exist for them
    assert response.status_code == 404, response.content[:300]
    assert database_digest() == before


@pytest.mark.parametrize("probe,method", _cases(lambda p, m: p.api))
def test_api_key_of_another_workspace_gets_404(world, probe, method):
    victim_kwargs, _ = _objects(world, probe)
    before = database_digest()
    response = _send(_client(key=world.keys["twin:admin"]), probe, method,
                     _url(probe, world.victim, victim_kwargs), world.victim)
    assert response.status_code == 404, response.content[:300]
    assert database_digest() == before


@pytest.mark.parametrize("probe,method", _cases(lambda p, m: p.make is not Probe.make))
def test_object_of_another_workspace_under_own_slug_gets_404(world, probe, method):
    # given the outsider is admin of the twin workspace and knows the victim's object id
    victim_kwargs, _ = _objects(world, probe)
    before = database_digest()
    # when they use it under their own workspace's URL
    url = _url(probe, world.twin, victim_kwargs)
    response = _send(_client(world.outsider), probe, method, url, world.twin)
    assert response.status_code == 404, response.content[:300]
    if probe.api:
        response = _send(_client(key=world.keys["twin:admin"]), probe, method, url, world.twin)
        assert response.status_code == 404, response.content[:300]
    assert database_digest() == before


@pytest.mark.parametrize("probe,method", _cases(lambda p, m: p.methods[m] != "viewer"))
def test_role_below_the_required_one_gets_403_and_nothing_changes(world, probe, method):
    victim_kwargs, _ = _objects(world, probe)
    url = _url(probe, world.victim, victim_kwargs)
    required = probe.methods[method]
    for role in ROLE_ORDER[: _rank(required)]:
        before = database_digest()
        response = _send(_client(world.users[role]), probe, method, url, world.victim)
        assert response.status_code == 403, (role, response.content[:300])
        assert database_digest() == before, role
        if probe.api:
            response = _send(_client(key=world.keys[f"victim:{role}"]), probe, method, url, world.victim)
            assert response.status_code == 403, (role, response.content[:300])
            assert database_digest() == before, role


@pytest.mark.parametrize("probe,method", _cases())
def test_required_role_succeeds_and_writes_really_write(world, probe, method):
    # The control: without it a broken URL or body would pass every denial above.
    victim_kwargs, _ = _objects(world, probe)
    url = _url(probe, world.victim, victim_kwargs)
    required = probe.methods[method]
    before = database_digest()
    response = _send(_client(world.users[required]), probe, method, url, world.victim)
    assert response.status_code < 400, (response.status_code, response.content[:500])
    if method != "GET" and probe.writes:
        assert database_digest() != before, "the write succeeded but changed nothing: is the probe's body right?"
    elif method != "GET":
        assert database_digest() == before, "a POST that only reads changed data"
    if probe.api:
        # A fresh object: the first call may have deleted or changed it.
        victim_kwargs, _ = _objects(world, probe)
        url = _url(probe, world.victim, victim_kwargs)
        response = _send(_client(key=world.keys[f"victim:{required}"]), probe, method, url, world.victim)
        assert response.status_code < 400, (response.status_code, response.content[:500])


@pytest.mark.parametrize("probe", [pytest.param(p, id=p.name) for p in PROBES])
def test_undeclared_methods_change_nothing(world, probe):
    victim_kwargs, _ = _objects(world, probe)
    url = _url(probe, world.victim, victim_kwargs)
    for method in ALL_METHODS:
        if method in probe.methods:
            continue
        before = database_digest()
        response = _send(_client(world.users["admin"]), probe, method, url, world.victim)
        assert response.status_code < 500, (method, response.status_code)
        assert database_digest() == before, f"{method} {url} is not declared in the probe but changed data"
        response = _send(_client(world.outsider), probe, method, url, world.victim)
        assert response.status_code in (404, 405), (method, response.status_code)


def test_every_tenant_model_has_a_planter():
    missing = tenant_models() - set(PLANTERS)
    assert not missing, f"models with a workspace FK and no planter in tests/isolation/plant.py: {sorted(missing)}"
    assert set(PLANTERS) - tenant_models() == set()


@pytest.mark.parametrize("probe,method", _cases(lambda p, m: m == "GET"))
def test_no_page_shows_anything_of_the_twin_workspace(world, probe, method):
    # given the probe's objects in both workspaces, then a marked object of every kind and
    # marked rows in the twin (a list that forgets its workspace filter would show them)
    victim_kwargs, _ = _objects(world, probe)
    markers = plant(world.twin)
    assert len(markers) >= 45
    # when the victim's owner opens the page
    response = _send(_client(world.users["owner"]), probe, method, _url(probe, world.victim, victim_kwargs),
                     world.victim)
    # then
    assert response.status_code == 200, response.content[:300]
    body = b"".join(response.streaming_content) if response.streaming else response.content
    text = body.decode(errors="replace")
    assert [m for m in markers if m in text] == []
