"""Recipients' own pages: one-click unsubscribe (RFC 8058), the preference center, and
the inbound SMS keyword endpoint."""

import time

import pytest
from django.test import Client

from apps.consent import links, services
from apps.consent.inbound import current_secret as inbound_sms_token
from apps.consent.models import ConsentEvent, Suppression, Topic


@pytest.fixture
def topics(workspace):
    return {
        "newsletter": Topic.objects.create(workspace=workspace, key="newsletter", name="Newsletter", channel="email",
                                           policy="opt_in"),
        "offers": Topic.objects.create(workspace=workspace, key="offers", name="Offers", channel="email",
                                       policy="opt_out"),
        "texts": Topic.objects.create(workspace=workspace, key="texts", name="Text alerts", channel="sms",
                                      policy="opt_in"),
    }


def token_for(workspace, key="1", topic="newsletter", channel="email", issued=None):
    return links.make_token(workspace_id=workspace.pk, profile_key=key, channel=channel, topic=topic, issued=issued)


def subscribed(workspace, topic, key="1"):
    return services.consent_state(workspace=workspace, profile_key=key, topic=topic)


def test_a_one_click_post_as_mail_providers_send_it_withdraws_at_once(workspace, topics):
    services.consent_record(workspace=workspace, profile_key="1", topic=topics["newsletter"], granted=True,
                            source="api")
    response = Client().post(f"/u/{token_for(workspace)}", data="List-Unsubscribe=One-Click",
                             content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert not subscribed(workspace, topics["newsletter"])
    event = ConsentEvent.objects.filter(topic=topics["newsletter"]).first()
    assert (event.granted, event.source, event.reference) == (False, "unsubscribe_link", "one-click")
    assert subscribed(workspace, topics["offers"])  # only the message's topic


def test_a_get_of_the_link_only_shows_a_page_and_changes_nothing(workspace, topics):
    services.consent_record(workspace=workspace, profile_key="1", topic=topics["newsletter"], granted=True,
                            source="api")
    events = ConsentEvent.objects.count()
    response = Client().get(f"/u/{token_for(workspace)}")
    assert response.status_code == 200 and b"Unsubscribe" in response.content and b"<form" in response.content
    assert subscribed(workspace, topics["newsletter"]) and ConsentEvent.objects.count() == events
    # the page's button posts and withdraws
    assert Client().post(f"/u/{token_for(workspace)}", {"confirm": "1"}).status_code == 200
    assert not subscribed(workspace, topics["newsletter"])


def test_a_replayed_unsubscribe_changes_nothing_more(workspace, topics):
    services.consent_record(workspace=workspace, profile_key="1", topic=topics["newsletter"], granted=True,
                            source="api")
    url = f"/u/{token_for(workspace)}"
    for _ in range(3):
        assert Client().post(url, data="List-Unsubscribe=One-Click",
                             content_type="application/x-www-form-urlencoded").status_code == 200
    assert ConsentEvent.objects.filter(topic=topics["newsletter"], granted=False).count() == 1


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature changed
    lambda t: "x" + t,  # payload changed
    lambda t: t.split(".")[0],  # signature removed
])
def test_a_tampered_token_is_refused_and_changes_nothing(workspace, topics, mangle):
    services.consent_record(workspace=workspace, profile_key="1", topic=topics["newsletter"], granted=True,
                            source="api")
    bad = mangle(token_for(workspace))
    for response in (Client().post(f"/u/{bad}", data="List-Unsubscribe=One-Click",
                                   content_type="application/x-www-form-urlencoded"), Client().get(f"/p/{bad}")):
        assert response.status_code == 404 and b"not valid" in response.content
    assert subscribed(workspace, topics["newsletter"])


def test_a_token_for_another_profile_cannot_be_forged_from_a_real_one(workspace, topics):
    import base64
    import json

    payload, mac = token_for(workspace, key="1").split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data[1] = "2"
    forged = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
    assert Client().post(f"/u/{forged}.{mac}").status_code == 404


def test_an_expired_link_says_so(workspace, topics):
    old = token_for(workspace, issued=int(time.time()) - 91 * 86400)
    response = Client().post(f"/u/{old}", data="List-Unsubscribe=One-Click",
                             content_type="application/x-www-form-urlencoded")
    assert response.status_code == 410 and b"expired" in response.content
    policy = services.policy_for(workspace)
    policy.unsubscribe_link_days = 120
    policy.save()
    assert Client().get(f"/u/{old}").status_code == 200


def test_the_preference_center_shows_every_topic_and_records_each_change(workspace, topics):
    client = Client(enforce_csrf_checks=True)
    url = f"/p/{token_for(workspace, key='7')}"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Newsletter" in html and "Offers" in html and "Text alerts" in html
    assert f'value="{topics["offers"].pk}" checked' in html  # opt-out: subscribed until a no
    csrf = client.cookies["csrftoken"].value
    response = client.post(url, {"csrfmiddlewaretoken": csrf, "topic": [topics["newsletter"].pk, topics["texts"].pk]})
    assert response.status_code == 200 and b"Your choices are saved" in response.content
    assert subscribed(workspace, topics["newsletter"], "7") and subscribed(workspace, topics["texts"], "7")
    assert not subscribed(workspace, topics["offers"], "7")
    sources = set(ConsentEvent.objects.filter(profile_key="7").values_list("source", flat=True))
    assert sources == {"preference_center"} and ConsentEvent.objects.filter(profile_key="7").count() == 3


def test_inbound_stop_withdraws_every_sms_topic_of_the_number(workspace, travel, topics):
    services.consent_record(workspace=workspace, profile_key="1", topic=topics["texts"], granted=True, source="api")
    url = f"/inbound/sms/{workspace.slug}/{inbound_sms_token(workspace)}"
    response = Client().post(url, {"from": "+31 6 12345678", "body": "Stop please"})
    assert response.status_code == 200 and response.json()["action"] == "stop"
    assert not subscribed(workspace, topics["texts"])
    event = ConsentEvent.objects.filter(topic=topics["texts"]).first()
    assert event.source == "inbound_sms" and "Stop please" in event.reference
    assert Client().post(url, {"from": "+31612345678", "body": "START"}).json()["action"] == "start"
    assert subscribed(workspace, topics["texts"])
    assert "STOP" in Client().post(url, {"from": "+31612345678", "body": "help"}).json()["reply"]
    # an unknown number that says STOP is suppressed at address level
    Client().post(url, {"from": "+44 7700 900123", "body": "UNSUBSCRIBE"})
    assert Suppression.objects.filter(workspace=workspace, kind="phone", value="+447700900123").exists()
    # a wrong secret is a 404 and changes nothing
    assert Client().post(f"/inbound/sms/{workspace.slug}/nope", {"from": "+31612345678", "body": "STOP"}
                         ).status_code == 404
    assert subscribed(workspace, topics["texts"])


def test_a_reused_unsubscribe_link_says_already_unsubscribed(workspace, topics):
    services.consent_record(workspace=workspace, profile_key="1", topic=topics["newsletter"], granted=True,
                            source="api")
    url = f"/u/{token_for(workspace)}"
    first = Client().post(url, {"confirm": "1"}).content.decode()
    assert "You are unsubscribed" in first and "already" not in first
    events = ConsentEvent.objects.count()
    # the link opened again, or its button pressed again
    for response in (Client().get(url), Client().post(url, {"confirm": "1"})):
        page = response.content.decode()
        assert response.status_code == 200 and 'id="already-unsubscribed"' in page
        assert "You are already unsubscribed" in page and "<strong>Newsletter</strong>" in page
        assert "<form" not in page
    assert ConsentEvent.objects.count() == events


def test_the_preference_center_unsubscribes_from_all_and_wears_the_clients_brand(workspace, topics):
    from apps.tenants.models import Workspace

    Workspace.objects.filter(pk=workspace.pk).update(brand_color="#0f766e")
    services.consent_record(workspace=workspace, profile_key="1", topic=topics["newsletter"], granted=True,
                            source="api")
    services.consent_record(workspace=workspace, profile_key="1", topic=topics["texts"], granted=True, source="api")
    client = Client()
    url = f"/p/{token_for(workspace)}"
    page = client.get(url).content.decode()
    assert 'id="unsubscribe-all"' in page and 'fill="#0f766e"' in page and "Northwind" in page
    # ticked boxes do not matter: "all" withdraws every topic of every channel
    response = client.post(url, {"all": "unsubscribe", "topic": [str(topics["newsletter"].pk)]})
    page = response.content.decode()
    assert response.status_code == 200 and 'id="unsubscribed-all"' in page
    assert [subscribed(workspace, t) for t in topics.values()] == [False, False, False]
    assert set(ConsentEvent.objects.filter(granted=False, source="preference_center").values_list(
        "topic__key", flat=True)) == {"newsletter", "offers", "texts"}
    assert subscribed(workspace, topics["newsletter"], key="2") is False  # another profile: untouched (opt-in)
    assert subscribed(workspace, topics["offers"], key="2") is True
