import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from tests.factories import UserFactory


@pytest.fixture
def staff_client(db):
    root = UserFactory(email="root@example.test", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_every_registered_model_has_a_working_changelist_with_search_and_filters(staff_client, workspace, alice):
    for model, model_admin in admin.site._registry.items():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = staff_client.get(url, {"q": "northwind"} if model_admin.search_fields else {})
        assert response.status_code == 200, (url, response.status_code)


def test_our_models_declare_list_filters_and_search():
    ours = [(m, a) for m, a in admin.site._registry.items() if m.__module__.startswith("apps.")]
    assert ours, "no models of ours registered"
    for model, model_admin in ours:
        assert model_admin.search_fields, model
        assert model_admin.list_filter, model


def test_only_staff_get_into_the_admin(db, alice):
    client = Client()
    client.force_login(alice, backend="django.contrib.auth.backends.ModelBackend")
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_every_model_of_ours_is_in_the_admin():
    from django.apps import apps as django_apps

    ours = [m for m in django_apps.get_models() if m.__module__.startswith("apps.")]
    missing = [m.__name__ for m in ours if m not in admin.site._registry]
    assert not missing, f"models without an admin: {missing}"
