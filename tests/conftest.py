"""Shared fixtures: the Healthchecks cast.

- alice: owner of the agency that owns `workspace` (reaches everything in it)
- bob: viewer of `workspace` (read-only member)
- mallory: marketer of `workspace`
- charlie: an outsider, owner of another agency with a look-alike workspace
"""

import pytest

from tests.factories import MembershipFactory, UserFactory, WorkspaceFactory, grant


@pytest.fixture
def workspace(db):
    return WorkspaceFactory(name="Northwind", slug="northwind")


@pytest.fixture
def other_workspace(db):
    # Same name as `workspace`, another agency: a look-alike for isolation probes.
    return WorkspaceFactory(name="Northwind", slug="northwind-twin")


@pytest.fixture
def alice(workspace):
    user = UserFactory(email="alice@example.test")
    MembershipFactory(organization=workspace.organization, user=user, role="owner")
    return user


@pytest.fixture
def bob(workspace):
    return grant(UserFactory(email="bob@example.test"), workspace, "viewer")


@pytest.fixture
def mallory(workspace):
    return grant(UserFactory(email="mallory@example.test"), workspace, "marketer")


@pytest.fixture
def charlie(other_workspace):
    user = UserFactory(email="charlie@example.test")
    MembershipFactory(organization=other_workspace.organization, user=user, role="owner")
    return user


@pytest.fixture
def client_for(client):
    """Log a user in on a fresh test client: client_for(alice)."""
    from django.test import Client

    def make(user):
        c = Client()
        c.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return c

    return make
