"""A profile's push devices on its record page (channels adds the section through
datamodel's record_sections): platform, app, masked token or push service host, last
seen, active; editors deactivate one; nobody else's devices, and only on profiles."""

from __future__ import annotations

import pytest

from apps.channels.devices import push_subscription_deactivate, push_subscription_register
from apps.channels.models import PushSubscription
from apps.tenants.models import AuditEvent
from tests.channels.test_push_sending import Browser
from tests.isolation.world import database_digest

TOKEN = "fcmTokenOfAnnasPhone0123456789abcdef"


@pytest.fixture
def anna_devices(workspace, other_workspace, travel):
    phone, _ = push_subscription_register(workspace=workspace, platform="android", profile_key="1", token=TOKEN,
                                          app_id="com.travel.app")
    browser, _ = push_subscription_register(workspace=workspace, platform="web", profile_key="1",
                                            subscription=Browser().subscription("http://127.0.0.1:9/push/anna"))
    old, _ = push_subscription_register(workspace=workspace, platform="ios", profile_key="1", token="ab" * 32)
    push_subscription_deactivate(subscription=old, reason="the push service answered 410")
    push_subscription_register(workspace=workspace, platform="android", profile_key="2",
                               token="fcmTokenOfBensPhone0123456789abcdefgh")
    push_subscription_register(workspace=other_workspace, platform="android", profile_key="1",
                               token="fcmTokenOfTwinAnna0123456789abcdefghi")
    return phone, browser, old


def record(workspace, key="1", entity="customer"):
    return f"/w/{workspace.slug}/data/entities/{entity}/records/{key}/"


def test_the_profile_record_lists_its_devices_masked(workspace, anna_devices, mallory, client_for):
    phone, browser, old = anna_devices
    page = client_for(mallory).get(record(workspace)).content.decode()
    section = page[page.index('id="record-push-devices"'):]
    assert section.count("<tr data-device=") == 3
    assert "fcmTok…cdef" in section and TOKEN not in page and "com.travel.app" in section
    assert "<code>127.0.0.1</code>" in section and "/push/anna" not in page
    assert "no: the push service answered 410" in section
    assert f'id="deactivate-device-{phone.pk}"' in section and f'id="deactivate-device-{old.pk}"' not in section
    # Ben's and the twin workspace's devices are not hers
    assert "BensPhone" not in page and "TwinAnna" not in page


def test_viewers_see_the_devices_without_the_button(workspace, anna_devices, bob, client_for):
    page = client_for(bob).get(record(workspace)).content.decode()
    assert page.count("<tr data-device=") == 3 and "deactivate-device-" not in page


def test_other_entities_have_no_device_section(workspace, anna_devices, alice, client_for):
    page = client_for(alice).get(record(workspace, "1000", "booking")).content.decode()
    assert 'id="record-push-devices"' not in page


def test_a_profile_without_devices_says_so(workspace, anna_devices, alice, client_for):
    page = client_for(alice).get(record(workspace, "3")).content.decode()
    assert "No app or browser is registered for push for this profile." in page


def test_an_editor_deactivates_a_device(workspace, anna_devices, mallory, client_for):
    phone = anna_devices[0]
    c = client_for(mallory)
    url = f"/w/{workspace.slug}/push/devices/{phone.pk}/deactivate/"
    response = c.post(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="record-push-devices")
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<section id="record-push-devices">')
    phone.refresh_from_db()
    assert (phone.active, phone.deactivated_reason) == (False, "deactivated by mallory@example.test")
    assert AuditEvent.objects.filter(workspace=workspace, verb="push device deactivated", actor=mallory).count() == 1
    # without JavaScript: back to the record
    browser = anna_devices[1]
    response = c.post(f"/w/{workspace.slug}/push/devices/{browser.pk}/deactivate/")
    assert response.status_code == 302 and response["Location"] == record(workspace)


def test_viewers_and_outsiders_cannot_deactivate(workspace, anna_devices, bob, charlie, mallory, client_for):
    phone = anna_devices[0]
    url = f"/w/{workspace.slug}/push/devices/{phone.pk}/deactivate/"
    before = database_digest()
    assert client_for(bob).post(url).status_code == 403
    assert client_for(charlie).post(url).status_code == 404
    # an editor naming a device of the twin workspace through this workspace's URL: 404
    twin = PushSubscription.objects.exclude(workspace=workspace).get()
    assert client_for(mallory).post(f"/w/{workspace.slug}/push/devices/{twin.pk}/deactivate/").status_code == 404
    assert database_digest() == before


def test_the_record_page_stays_within_its_queries(workspace, anna_devices, alice, client_for,
                                                  django_assert_max_num_queries):
    c = client_for(alice)
    c.get(record(workspace))  # warm caches (sessions, schema)
    with django_assert_max_num_queries(40) as captured:
        c.get(record(workspace))
    device_queries = [q for q in captured.captured_queries if "pushsubscription" in q["sql"]]
    assert len(device_queries) == 1
