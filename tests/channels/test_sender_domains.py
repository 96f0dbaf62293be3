"""Sender domains: verified by a confirmation link mailed to a role mailbox at the domain;
the platform's own server sends only from verified domains (refused at publish and at
proof time, failed per message at send); a workspace with its own server is not bound."""

import datetime as dt
import json
import re

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from apps.campaigns import services as campaign_services
from apps.campaigns.graph import GraphError
from apps.channels import configuration, senders, services
from apps.channels.models import Delivery, Message, SenderDomain
from apps.tenants.models import AuditEvent
from tests.channels.test_sending import CONTENT, live_run
from tests.factories import make_api_key

HX = {"HTTP_HX_REQUEST": "true"}
SENDER = {**CONTENT, "from_email": "news@travel.test"}
NOT_VERIFIED = ("the sender domain travel.test is not verified for this workspace: the platform's email server "
                "sends only from verified sender domains (email settings > sender domains), or configure the "
                "workspace's own SMTP server or email service")


@pytest.fixture
def api(client, workspace):
    key = make_api_key(workspace, role="admin", name="admin")[1]

    def call(method, path, body=None):
        return client.generic(method, f"/api/v1/workspaces/{workspace.slug}/channels/email/sender-domains/{path}",
                              json.dumps(body) if body is not None else "", content_type="application/json",
                              HTTP_AUTHORIZATION=f"Bearer {key}")
    return call


def link_in(message) -> str:
    return re.search(r"https?://\S+/sender-domains/confirm/\S+/", message.body).group(0)


def path_of(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def verify(workspace, domain="travel.test") -> SenderDomain:
    return SenderDomain.objects.create(workspace=workspace, domain=domain, status="verified",
                                       verified_at=timezone.now())


def test_a_domain_is_verified_by_the_link_mailed_to_its_postmaster(workspace, api, client,
                                                                   django_capture_on_commit_callbacks):
    # when an admin adds a domain
    with django_capture_on_commit_callbacks(execute=True):
        response = api("POST", "", {"domain": " Travel.Test. "})
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["domain"], body["status"], body["confirm_address"], body["verified_at"]) == (
        "travel.test", "pending", "postmaster@travel.test", None)
    # then the link goes to postmaster@ the domain
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["postmaster@travel.test"]
    assert sent.subject == "Confirm that Northwind may send email from travel.test"
    link = path_of(link_in(sent))
    # a GET (a mail scanner following the link) confirms nothing
    page = client.get(link)
    assert page.status_code == 200 and 'id="sender-domain-confirm"' in page.content.decode()
    assert SenderDomain.objects.get(pk=body["id"]).status == "pending"
    # the click confirms, once
    done = client.post(link)
    assert done.status_code == 200 and "travel.test is confirmed" in done.content.decode()
    sender = SenderDomain.objects.get(pk=body["id"])
    assert sender.status == "verified" and sender.verified_at is not None and sender.token_hash == ""
    assert client.post(link).status_code == 404
    assert list(AuditEvent.objects.filter(workspace=workspace, verb__startswith="sender_domain.")
                .order_by("id").values_list("verb", flat=True)) == [
        "sender_domain.added", "sender_domain.link_sent", "sender_domain.verified"]
    assert api("GET", "").json()["results"][0]["status"] == "verified"


@pytest.mark.parametrize("body,errors", [
    ({"domain": "not a domain"}, {"domain": ["'not a domain' is not a domain name (like example.com)"]}),
    ({"domain": "localhost"}, {"domain": ["'localhost' is not a domain name (like example.com)"]}),
    ({"domain": "travel.test\r\nBcc: x@y.test"}, {"domain": ["'travel.test\\r\\nBcc: x@y.test' is not a domain name "
                                                              "(like example.com)"]}),
    ({"domain": "travel.test", "mailbox": "alice"}, {"mailbox": ['"alice" is not a valid choice.']}),
])
def test_bad_domains_and_mailboxes_are_refused(workspace, api, body, errors):
    response = api("POST", "", body)
    assert response.status_code == 400
    assert response.json() == errors
    assert SenderDomain.objects.count() == 0 and mail.outbox == []


def test_a_domain_is_added_once(workspace, api):
    verify(workspace)
    response = api("POST", "", {"domain": "TRAVEL.test"})
    assert response.status_code == 400
    assert response.json() == {"domain": ["travel.test is already a sender domain of this workspace"]}


def test_an_old_or_replaced_link_does_not_verify(workspace, api, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        pk = api("POST", "", {"domain": "travel.test"}).json()["id"]
    first = path_of(link_in(mail.outbox[0]))
    with django_capture_on_commit_callbacks(execute=True):
        resent = api("POST", f"{pk}/resend/", {"mailbox": "hostmaster"})
    assert resent.status_code == 200 and resent.json()["confirm_address"] == "hostmaster@travel.test"
    second = path_of(link_in(mail.outbox[1]))
    assert mail.outbox[1].to == ["hostmaster@travel.test"]
    assert client.post(first).status_code == 404
    SenderDomain.objects.filter(pk=pk).update(link_sent_at=timezone.now() - dt.timedelta(hours=73))
    assert client.get(second).status_code == 404 and client.post(second).status_code == 404
    assert SenderDomain.objects.get(pk=pk).status == "pending"


def test_a_domain_verified_by_hand_is_added_verified_once(workspace, alice):
    # when a domain is verified by hand (no link, no DNS record)
    sender = senders.sender_domain_verify(workspace=workspace, actor=alice, domain="Travel.Test.")
    # then it is there, verified, without a mail to anyone
    sender.refresh_from_db()
    assert (sender.domain, sender.status, sender.verified_via, sender.confirm_address, sender.token_hash,
            sender.created_by) == ("travel.test", "verified", "admin", "postmaster@travel.test", "", alice)
    assert sender.verified_at is not None and mail.outbox == []
    assert list(AuditEvent.objects.filter(workspace=workspace).order_by("id").values_list("verb", "actor_label")) == [
        ("sender_domain.added", "alice@example.test"), ("sender_domain.verified", "alice@example.test")]
    # and verifying it again changes nothing
    again = senders.sender_domain_verify(workspace=workspace, actor=None, domain="travel.test")
    assert again.pk == sender.pk and again.verified_at == sender.verified_at
    assert SenderDomain.objects.count() == 1 and AuditEvent.objects.filter(workspace=workspace).count() == 2


def test_a_pending_domain_verified_by_hand_stops_its_link(workspace, api, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        pk = api("POST", "", {"domain": "travel.test"}).json()["id"]
    link = path_of(link_in(mail.outbox[0]))
    sender = senders.sender_domain_verify(workspace=workspace, actor=None, domain="travel.test")
    assert (sender.pk, sender.status, sender.verified_via, sender.token_hash) == (pk, "verified", "admin", "")
    assert client.post(link).status_code == 404
    assert list(AuditEvent.objects.filter(workspace=workspace, verb__startswith="sender_domain.verified")
                .values_list("data", flat=True)) == [{"domain": "travel.test", "by": "admin"}]


def test_a_domain_verified_by_hand_must_be_a_domain(workspace):
    with pytest.raises(ValidationError):
        senders.sender_domain_verify(workspace=workspace, actor=None, domain="not a domain")
    assert SenderDomain.objects.count() == 0 and AuditEvent.objects.filter(workspace=workspace).count() == 0


def test_the_platform_server_sends_only_from_verified_domains(workspace, travel, queue, sends):
    # given a workspace without its own server, and content from an unverified domain
    run = live_run(workspace, settings={"content": SENDER})
    queue()
    sends()
    delivery = Delivery.objects.get(run=run)
    messages = list(Message.objects.filter(delivery=delivery).values_list("status", "reason", "error"))
    assert messages == [("failed", "rejected", f"sender_unverified {NOT_VERIFIED}")] * 3
    assert mail.outbox == []
    # once the domain is verified, the same content goes out
    verify(workspace)
    run = live_run(workspace, settings={"content": SENDER})
    queue()
    sends()
    assert sorted(m.to[0] for m in mail.outbox) == ["anna@example.test", "ben@example.test", "chloe@example.test"]
    assert {m.from_email for m in mail.outbox} == {"Northwind <news@travel.test>"}


def test_publishing_from_an_unverified_domain_is_refused_naming_the_activity(workspace, travel):
    campaign = campaign_services.campaign_create(workspace=workspace, actor=None, name="Spring")
    definition = {"nodes": [
        {"id": "start", "type": "start"},
        {"id": "who", "type": "build_audience", "settings": {"definition": {
            "entity": "customer", "rule": {"attr": "customer_id", "op": "gte", "value": 0}}}},
        {"id": "mail", "type": "email", "settings": {"content": SENDER}},
        {"id": "end", "type": "end"}],
        "edges": [{"from": "start", "to": "who"}, {"from": "who", "to": "mail"}, {"from": "mail", "to": "end"}]}
    campaign_services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition=definition)
    with pytest.raises(GraphError) as caught:
        campaign_services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    assert caught.value.messages == [f"mail: from_email: {NOT_VERIFIED}"]
    verify(workspace)
    version = campaign_services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    assert version.number == 1


def test_a_workspace_with_its_own_server_is_not_bound(workspace, travel, email_config, sink, queue, sends):
    assert SenderDomain.objects.count() == 0
    run = live_run(workspace, settings={"content": {**CONTENT, "from_email": "news@elsewhere.test"}})
    queue()
    sends()
    assert Delivery.objects.get(run=run).messages.filter(status="sent").count() == 3
    assert len(sink.received()) == 3


def test_a_proof_from_an_unverified_domain_is_refused(workspace, travel):
    with pytest.raises(Exception) as caught:
        services.proof_send(workspace=workspace, actor=None, channel="email", content=SENDER,
                            addresses=["qa@agency.test"])
    assert caught.value.message_dict == {"from_email": [NOT_VERIFIED]}
    assert Delivery.objects.count() == 0


def test_the_test_email_through_the_platform_goes_from_its_own_address(workspace, settings):
    settings.DEFAULT_FROM_EMAIL = "orchestrate@platform.test"
    workspace.sender_email = "hello@northwind.test"
    workspace.save()
    configuration.channel_config_test_send(workspace=workspace, actor=None, address="qa@example.test")
    assert [m.from_email for m in mail.outbox] == ["orchestrate@platform.test"]
    verify(workspace, "northwind.test")
    configuration.channel_config_test_send(workspace=workspace, actor=None, address="qa@example.test")
    assert [m.from_email for m in mail.outbox] == ["orchestrate@platform.test", "hello@northwind.test"]


def test_the_screen_adds_resends_and_removes_domains(workspace, alice, client_for,
                                                     django_capture_on_commit_callbacks):
    client = client_for(alice)
    url = reverse("chan-sender-domains", kwargs={"workspace_slug": workspace.slug})
    page = client.get(url)
    assert page.status_code == 200 and "No sender domain yet." in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        added = client.post(url, {"domain": "travel.test", "mailbox": "webmaster"}, **HX)
    assert added.status_code == 201
    html = added.content.decode()
    assert "Confirmation link sent to webmaster@travel.test." in html and "<code>travel.test</code>" in html
    assert mail.outbox[0].to == ["webmaster@travel.test"]
    bad = client.post(url, {"domain": "nope", "mailbox": "postmaster"}, **HX)
    assert bad.status_code == 422 and "&#x27;nope&#x27; is not a domain name (like example.com)" in bad.content.decode()
    sender = SenderDomain.objects.get(workspace=workspace)
    resend = reverse("chan-sender-domain-resend", kwargs={"workspace_slug": workspace.slug, "pk": sender.pk})
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(resend, **HX).status_code == 200
    assert [m.to for m in mail.outbox] == [["webmaster@travel.test"], ["postmaster@travel.test"]]
    delete = reverse("chan-sender-domain-delete", kwargs={"workspace_slug": workspace.slug, "pk": sender.pk})
    removed = client.post(delete, **HX)
    assert removed.status_code == 200 and "travel.test removed." in removed.content.decode()
    assert SenderDomain.objects.count() == 0


class TinyDns:
    """A name server on 127.0.0.1 answering TXT questions from a dict (NXDOMAIN for
    other names): the DNS the check talks to, over real UDP."""

    def __init__(self, records: dict[str, list[str]]):
        import socket
        import threading

        self.records = records
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopped = False
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def serve(self):
        import dns.message
        import dns.rcode
        import dns.rdatatype
        import dns.rrset

        while not self.stopped:
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text().rstrip(".").lower()
            if name not in self.records:
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.TXT and self.records[name]:
                response.answer.append(dns.rrset.from_text_list(
                    question.name, 60, "IN", "TXT", [f'"{text}"' for text in self.records[name]]))
            self.sock.sendto(response.to_wire(), peer)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped = True
        self.thread.join()
        self.sock.close()


def test_a_domain_is_verified_by_its_dns_txt_record(workspace, api, settings):
    sender = api("POST", "", {"domain": "travel.test"}).json()
    record = sender["dns_record"]
    assert re.fullmatch(r"orchestrate-verification=[0-9a-f]{32}", record)
    records = {"travel.test": ["v=spf1 -all"]}
    with TinyDns(records) as server:
        settings.SENDER_DOMAIN_DNS_NAMESERVERS = [f"127.0.0.1:{server.port}"]
        # the record is not there yet
        checked = api("POST", f"{sender['id']}/check-dns/")
        assert checked.status_code == 200
        assert (checked.json()["status"], checked.json()["dns_result"]) == (
            "pending", f"not found: travel.test has 1 TXT record(s), none is {record}")
        # once it is, the domain is verified
        records["travel.test"].append(record)
        checked = api("POST", f"{sender['id']}/check-dns/").json()
    assert (checked["status"], checked["verified_via"], checked["dns_result"]) == ("verified", "dns", "found")
    assert SenderDomain.objects.get(pk=sender["id"]).status == "verified"
    again = api("POST", f"{sender['id']}/check-dns/")
    assert again.status_code == 400 and again.json() == {"domain": ["travel.test is already verified"]}


def test_a_domain_without_txt_records_or_name_servers_stays_pending(workspace, api, settings):
    pk = api("POST", "", {"domain": "travel.test"}).json()["id"]
    with TinyDns({}) as server:
        settings.SENDER_DOMAIN_DNS_NAMESERVERS = [f"127.0.0.1:{server.port}"]
        body = api("POST", f"{pk}/check-dns/").json()
    assert (body["status"], body["dns_result"]) == ("pending", "not found: travel.test has no TXT record")
    settings.SENDER_DOMAIN_DNS_NAMESERVERS, settings.SENDER_DOMAIN_DNS_TIMEOUT_S = ["127.0.0.1:9"], 0.5
    body = api("POST", f"{pk}/check-dns/").json()
    assert body["status"] == "pending"
    assert body["dns_result"].startswith("not checked: the name servers did not answer (")
    assert body["dns_result"].endswith("); try again later")
