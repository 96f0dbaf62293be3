"""The delivery screens: the list, a delivery's page (a progress bar polling while it
sends, then counts by state and by exclusion reason, opens and clicks, the content in a
sandboxed iframe, the first messages by state) and stopping it (approvers)."""

import re

import pytest
from django.urls import reverse

from apps.channels.models import Delivery, Message, MessageEvent
from tests.channels.delivery_rows import make_delivery
from tests.factories import UserFactory, grant, make_travel_model
from tests.isolation.world import database_digest

HX_STATUS = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "delivery-status"}


@pytest.fixture
def approver(workspace):
    return grant(UserFactory(email="ann@example.test"), workspace, "approver")


def url(name, delivery, **kwargs):
    return reverse(name, kwargs={"workspace_slug": delivery.workspace.slug, "pk": delivery.pk, **kwargs})


def _status_region(html: str) -> str:
    return re.search(r'<section id="delivery-status".*?</section>', html, re.S).group(0)


def test_a_sending_delivery_shows_its_progress_and_polls(workspace, bob, client_for):
    delivery = make_delivery(workspace, statuses={"sent": 3, "queued": 1, "excluded:no_address": 2})
    response = client_for(bob).get(url("chan-delivery", delivery))
    assert response.status_code == 200
    region = _status_region(response.content.decode())
    assert 'hx-trigger="every 2s"' in region
    assert f'hx-get="{url("chan-delivery-status", delivery)}"' in region
    assert 'aria-valuenow="75"' in region  # 3 of the 4 to send are settled
    assert "3 sent · 1 to go · 0 failed of 6 messages" in region
    assert "delivery-stop-button" not in region  # a viewer does not stop deliveries
    assert "HX-Trigger" not in client_for(bob).get(url("chan-delivery-status", delivery))


def test_a_finished_delivery_shows_counts_by_state_reason_and_engagement_and_stops_polling(
        workspace, bob, client_for, django_assert_num_queries):
    delivery = make_delivery(workspace, status="done", statuses={
        "sent": 3, "failed:rejected": 1, "excluded:no_address": 2, "excluded:duplicate_address": 1})
    first = Message.objects.filter(delivery=delivery, status="sent").first()
    MessageEvent.objects.bulk_create([MessageEvent(workspace=workspace, message=first, type="open") for _ in range(2)]
                                     + [MessageEvent(workspace=workspace, message=first, type="click")])
    client = client_for(bob)
    client.get(url("chan-delivery-status", delivery))
    # session, user, workspace, membership, grants; the delivery, the GROUP BY, the events; a savepoint pair
    with django_assert_num_queries(10):
        response = client.get(url("chan-delivery-status", delivery))
    html = response.content.decode()
    assert "hx-trigger" not in html.split(">", 1)[0]  # the region no longer polls
    assert "no-cache" in response["Cache-Control"]
    assert response["HX-Trigger"] == "deliveryChanged"  # the message table refreshes once
    states = dict(re.findall(r'data-state="(\w+)"><dt>[^<]+</dt><dd>(\d+)</dd>', html))
    assert states == {"sent": "3", "failed": "1", "excluded": "3"}
    reasons = re.findall(r'data-reason="(\w+)"><td>([^<]+)</td><td class="num">(\d+)</td>', html)
    assert reasons == [("no_address", "No address", "2"), ("duplicate_address", "Duplicate address in this delivery",
                                                          "1"), ("rejected", "Rejected by the provider", "1")]
    assert re.search(r'data-engagement="opens"><dt>.*?</dt><dd>1</dd><small class="muted">2 opens', html)
    assert re.search(r'data-engagement="clicks"><dt>.*?</dt><dd>1</dd><small class="muted">1 click<', html)


def test_the_content_is_shown_inert_in_a_sandboxed_iframe(workspace, bob, client_for):
    delivery = make_delivery(workspace, content={"subject": "Spring <sale>",
                                                 "html": '<p onclick="x()">Hi "you"</p><script>alert(1)</script>'})
    html = client_for(bob).get(url("chan-delivery", delivery)).content.decode()
    assert '<dd id="delivery-subject">Spring &lt;sale&gt;</dd>' in html
    iframe = re.search(r"<iframe [^>]*>", html).group(0)
    assert 'sandbox=""' in iframe
    assert ('srcdoc="&lt;p onclick=&quot;x()&quot;&gt;Hi &quot;you&quot;&lt;/p&gt;&lt;script&gt;alert(1)'
            '&lt;/script&gt;"') in iframe
    assert "<script>alert(1)" not in html


def test_the_message_table_filters_by_state(workspace, bob, client_for):
    delivery = make_delivery(workspace, statuses={"sent": 2, "excluded:no_address": 1})
    client = client_for(bob)
    page = client.get(url("chan-delivery", delivery)).content.decode()
    assert len(re.findall(r'<tr id="message-\d+" data-status=', page)) == 3
    response = client.get(url("chan-delivery", delivery), {"status": "excluded"},
                          HTTP_HX_REQUEST="true", HTTP_HX_TARGET="delivery-messages")
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="delivery-messages"')
    assert re.findall(r'data-status="(\w+)"', html) == ["excluded"]
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_an_approver_stops_a_sending_delivery(workspace, approver, client_for):
    delivery = make_delivery(workspace, statuses={"queued": 2, "sent": 1})
    client = client_for(approver)
    page = client.get(url("chan-delivery", delivery)).content.decode()
    assert 'id="delivery-stop-button"' in page
    response = client.post(url("chan-delivery-stop", delivery), **HX_STATUS)
    assert response.status_code == 200 and response["HX-Trigger"] == "deliveryChanged"
    html = response.content.decode()
    assert "Delivery stopped: 2 queued messages cancelled." in html
    assert "hx-trigger" not in html.split(">", 1)[0] and "delivery-stop-button" not in html
    assert Delivery.objects.get(pk=delivery.pk).status == "stopped"
    assert sorted(Message.objects.filter(delivery=delivery).values_list("status", flat=True)) == [
        "cancelled", "cancelled", "sent"]
    # without htmx: back to the page
    plain = client.post(url("chan-delivery-stop", delivery))
    assert plain.status_code == 302 and plain["Location"] == url("chan-delivery", delivery)


@pytest.mark.parametrize("who,code", [("bob", 403), ("mallory", 403), ("charlie", 404)])
def test_others_cannot_stop_a_delivery_and_nothing_changes(workspace, client_for, request, who, code):
    delivery = make_delivery(workspace, statuses={"queued": 2})
    user = request.getfixturevalue(who)
    before = database_digest()
    assert client_for(user).post(url("chan-delivery-stop", delivery), **HX_STATUS).status_code == code
    assert database_digest() == before


def test_the_list_shows_the_workspaces_deliveries_only(workspace, other_workspace, bob, client_for):
    mine = make_delivery(workspace, name="Mine", statuses={"sent": 2})
    theirs = make_delivery(other_workspace, name="Theirs", statuses={"sent": 1})
    html = client_for(bob).get(reverse("chan-delivery-list", kwargs={"workspace_slug": workspace.slug})).content.decode()
    assert f'id="delivery-{mine.pk}"' in html and f'id="delivery-{theirs.pk}"' not in html
    assert f'href="{url("chan-delivery", mine)}"' in html
    # and another workspace's delivery is not found under this one
    assert client_for(bob).get(reverse("chan-delivery", kwargs={"workspace_slug": workspace.slug,
                                                                "pk": theirs.pk})).status_code == 404


def test_the_run_page_links_the_delivery_of_its_channel_activity(workspace, travel, email_config, queue, sends,
                                                                  bob, client_for):
    from tests.channels.test_sending import live_run

    run = live_run(workspace)
    queue()
    delivery = Delivery.objects.get(run=run)
    html = client_for(bob).get(reverse("camp-run", kwargs={"workspace_slug": workspace.slug, "pk": run.pk}))
    html = html.content.decode()
    assert f'<a href="{url("chan-delivery", delivery)}" id="delivery-link-mail">' in html
    # and the workspace's navigation leads to the deliveries
    assert f'href="{reverse("chan-delivery-list", kwargs={"workspace_slug": workspace.slug})}"' in html


def test_a_delivery_paused_by_a_provider_outage_says_since_when_and_when_it_retries(workspace, bob, client_for):
    import datetime as dt

    from django.utils import timezone

    since = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=3)
    delivery = make_delivery(workspace, statuses={"queued": 2})
    Delivery.objects.filter(pk=delivery.pk).update(
        outage_since=since, outage_failures=4, outage_error="connection ConnectionRefusedError: <refused>",
        paused_until=since + dt.timedelta(minutes=5))
    region = _status_region(client_for(bob).get(url("chan-delivery-status", delivery)).content.decode())
    expected = (f"Provider unreachable since {since:%Y-%m-%d %H:%M:%S} UTC (4 failed connections: connection "
                f"ConnectionRefusedError: &lt;refused&gt;), retrying at "
                f"{since + dt.timedelta(minutes=5):%Y-%m-%d %H:%M:%S} UTC.")
    assert f'<p id="delivery-outage" class="warn" role="status">{expected}</p>' in region
    # once the provider is back, the note is gone
    Delivery.objects.filter(pk=delivery.pk).update(outage_since=None, outage_failures=0, outage_error="",
                                                   paused_until=None)
    region = _status_region(client_for(bob).get(url("chan-delivery-status", delivery)).content.decode())
    assert "delivery-outage" not in region


def test_the_content_is_a_rendered_sample_and_reasons_read_as_words(workspace, bob, client_for):
    # given a delivery whose first recipient is customer 1 (Anna), with a personalized template
    make_travel_model(workspace)
    delivery = make_delivery(workspace, status="done", statuses={"sent": 1, "excluded:no_consent": 1,
                                                                 "failed:retries_exhausted": 1},
                             content={"subject": "Hello {{ profile.first_name }}",
                                      "html": "<p>Dear {{ profile.first_name }} {{ profile.last_name }}</p>"})
    delivery.options = {**delivery.options, "profile": "customer", "target": "customer"}
    delivery.save(update_fields=["options"])
    Message.objects.filter(pk=Message.objects.filter(delivery=delivery).order_by("id").first().pk).update(
        target_key="1", profile_key="1")
    # when a viewer opens it
    html = client_for(bob).get(url("chan-delivery", delivery)).content.decode()
    # then the sample is rendered, the raw template is kept one click away
    assert '<dd id="delivery-subject">Hello Anna</dd>' in html
    iframe = re.search(r'<iframe [^>]*id="delivery-html"[^>]*>', html).group(0)
    assert "Dear Anna Jansen" in iframe and "{{" not in iframe
    assert "As customer <code>1</code> sees it" in html
    assert '<dd id="delivery-template-subject">Hello {{ profile.first_name }}</dd>' in html
    # and the message table's reasons are words, not codes
    cells = dict(re.findall(r'<td data-code="(\w+)">([^<]+)</td>', html))
    assert cells == {"no_consent": "No consent",
                     "retries_exhausted": "The provider kept failing: gave up after the retries"}


def test_a_template_that_cannot_be_rendered_shows_the_template_and_why(workspace, bob, client_for):
    delivery = make_delivery(workspace, statuses={"sent": 1})  # no data model: no record to render for
    html = client_for(bob).get(url("chan-delivery", delivery)).content.decode()
    assert "No sample to show (the data model has no profile dimension" in html
    assert '<details id="delivery-template" open>' in html
    assert '<dd id="delivery-template-subject">Hello {{ profile.first_name }}</dd>' in html


def test_a_letter_delivery_has_no_open_or_click_cards(workspace, bob, client_for):
    letters = make_delivery(workspace, status="done", statuses={"sent": 2})
    Delivery.objects.filter(pk=letters.pk).update(channel="direct_mail")
    emails = make_delivery(workspace, status="done", statuses={"sent": 2})
    client = client_for(bob)
    letter_page = client.get(url("chan-delivery", letters)).content.decode()
    assert "data-engagement" not in letter_page and "Opened" not in letter_page
    assert re.findall(r'data-engagement="(\w+)"', client.get(url("chan-delivery", emails)).content.decode()) == [
        "opens", "clicks"]
