"""Links in messages follow the address the product is served on when SITE_URL is unset:
the host of the request that started the run, only ever one in ALLOWED_HOSTS."""

import email
from email import policy

from django.test import RequestFactory, override_settings

from apps.campaigns import services
from apps.campaigns.models import Run
from apps.channels.models import Delivery
from apps.core.siteurl import link_base, request_origin
from tests.campaigns.test_api import Api
from tests.campaigns.test_run_control import MAILING, published


def test_the_origin_is_the_requests_allowed_host_and_nothing_when_site_url_is_set():
    factory = RequestFactory()
    with override_settings(SITE_URL_SET=False):
        assert request_origin(factory.get("/", HTTP_HOST="localhost:8123")) == "http://localhost:8123"
        assert request_origin(factory.get("/", HTTP_HOST="localhost", secure=True)) == "https://localhost"
        assert request_origin(factory.get("/", HTTP_HOST="evil.test")) == ""
        assert link_base("http://localhost:8123/") == "http://localhost:8123"
        assert link_base("") == "http://127.0.0.1:8000"
    with override_settings(SITE_URL_SET=True, SITE_URL="https://app.example.test/"):
        assert request_origin(factory.get("/", HTTP_HOST="localhost:8123")) == ""
        assert link_base("http://localhost:8123") == "https://app.example.test"


@override_settings(SITE_URL_SET=False)
def test_a_run_started_on_an_address_sends_links_on_that_address(workspace, travel, email_config, sink, queue,
                                                                   sends):
    campaign = published(workspace, MAILING)
    api = Api(workspace, "approver")
    api.client.defaults["HTTP_HOST"] = "localhost:8123"
    response = api.post(f"campaigns/{campaign.pk}/start/")
    assert response.status_code == 202, response.content
    run = Run.objects.get(pk=response.json()["id"])
    assert run.site_url == "http://localhost:8123"
    queue()
    sends()
    delivery = Delivery.objects.get(run=run)
    assert delivery.options["site_url"] == "http://localhost:8123"
    received = sink.received()
    assert len(received) == 1
    mail = email.message_from_bytes(received[0].data, policy=policy.default)
    html = mail.get_body(("html",)).get_content()
    assert "http://localhost:8123/t/o/" in html
    assert mail["List-Unsubscribe"].startswith("<http://localhost:8123/u/")
    assert "127.0.0.1:8000" not in html


@override_settings(SITE_URL_SET=False)
def test_a_forged_host_starts_nothing_and_a_scheduled_run_takes_the_last_address(workspace, travel, email_config,
                                                                                 queue):
    campaign = published(workspace, MAILING)
    api = Api(workspace, "approver")
    api.client.defaults["HTTP_HOST"] = "evil.test"
    assert api.post(f"campaigns/{campaign.pk}/start/").status_code == 400
    assert Run.objects.filter(campaign=campaign).count() == 0
    api.client.defaults["HTTP_HOST"] = "localhost:8123"
    assert api.post(f"campaigns/{campaign.pk}/start/").status_code == 202
    # a run no request started (a schedule's) uses the workspace's latest address
    scheduled = services.campaign_start(workspace=workspace, actor=None, campaign=campaign, trigger="schedule")
    assert scheduled.site_url == "http://localhost:8123"


def test_site_url_when_set_wins_over_the_requests_host(workspace, travel, email_config, queue):
    campaign = published(workspace, MAILING)
    api = Api(workspace, "approver")
    api.client.defaults["HTTP_HOST"] = "localhost:8123"
    with override_settings(SITE_URL_SET=True):
        response = api.post(f"campaigns/{campaign.pk}/start/")
    assert Run.objects.get(pk=response.json()["id"]).site_url == ""
