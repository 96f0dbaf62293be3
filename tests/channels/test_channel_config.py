"""The email configuration: the secret is write-only (never in an answer or a page) and
stored encrypted; host, port and service are checked; a test email reaches the server,
and a wrong port gives a clear error."""

import json
import socket

import pytest
from django.db import connection

from apps.channels.models import ChannelConfig
from apps.tenants.models import AuditEvent
from tests.factories import make_api_key

SECRET = "s3cret-Pa55word-9876"


@pytest.fixture
def admin_api(client, workspace):
    _, key = make_api_key(workspace, role="admin", name="admin key")

    def call(method, path, body=None):
        return client.generic(method, f"/api/v1/workspaces/{workspace.slug}/channels/email/{path}",
                              json.dumps(body) if body is not None else "", content_type="application/json",
                              HTTP_AUTHORIZATION=f"Bearer {key}")
    return call


def smtp(port, **extra):
    return {"backend": "smtp", "options": {"host": "127.0.0.1", "port": port, "use_tls": False}, **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_before_any_configuration_the_defaults_are_shown(workspace, admin_api):
    body = admin_api("GET", "").json()
    assert body["configured"] is False and body["has_secret"] is False and body["secret_hint"] == ""
    assert (body["backend"], body["window_hours"], body["max_attempts"]) == ("smtp", 12, 5)


def test_the_secret_is_write_only_and_stored_encrypted(workspace, admin_api):
    response = admin_api("PUT", "", smtp(2525, secret=SECRET, from_email="news@travel.test", rate_per_second=5))
    assert response.status_code == 200, response.content
    body = response.json()
    assert SECRET not in response.content.decode()
    assert "secret" not in body and body["has_secret"] is True and body["secret_hint"] == "••••••••9876"
    assert body["options"] == {"host": "127.0.0.1", "port": 2525, "username": "", "use_tls": False,
                               "use_ssl": False, "timeout": 30.0}
    assert (body["from_email"], body["rate_per_second"]) == ("news@travel.test", 5.0)
    assert SECRET not in admin_api("GET", "").content.decode()
    # the column holds a Fernet token, not the password
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_encrypted, options::text FROM channels_channelconfig WHERE workspace_id = %s",
                       [workspace.pk])
        stored, options = cursor.fetchone()
    assert stored and SECRET not in stored and SECRET not in options
    assert ChannelConfig.objects.get(workspace=workspace).secret == SECRET
    # the audit log says the secret changed, not what it is
    event = AuditEvent.objects.get(workspace=workspace, verb="email configuration saved")
    assert "secret" in event.data["changed"] and SECRET not in json.dumps(event.data)


def test_an_update_without_a_secret_keeps_it_and_clear_removes_it(workspace, admin_api):
    admin_api("PUT", "", smtp(2525, secret=SECRET))
    body = admin_api("PUT", "", smtp(2526, secret="")).json()
    assert body["has_secret"] is True and body["options"]["port"] == 2526
    assert ChannelConfig.objects.get(workspace=workspace).secret == SECRET
    body = admin_api("PUT", "", smtp(2526, clear_secret=True)).json()
    assert body["has_secret"] is False and ChannelConfig.objects.get(workspace=workspace).secret_encrypted == ""


@pytest.mark.parametrize("payload,field,words", [
    ({"backend": "smtp", "options": {"port": 25}}, "host", "host name is required"),
    ({"backend": "smtp", "options": {"host": "bad host!", "port": 25}}, "host", "not a host name"),
    ({"backend": "smtp", "options": {"host": "mail.example.com", "port": 70000}}, "port", "1 to 65535"),
    ({"backend": "smtp", "options": {"host": "mail.example.com", "port": 465, "use_tls": True, "use_ssl": True}},
     "use_ssl", "not both"),
    ({"backend": "smtp", "options": {"host": "mail.example.com", "port": 25, "password": "x"}}, "password",
     "credential"),
    ({"backend": "anymail", "options": {"esp": "nosuchservice"}}, "esp", "no email service named"),
])
def test_bad_settings_are_refused_with_the_field(workspace, admin_api, payload, field, words):
    response = admin_api("PUT", "", payload)
    assert response.status_code == 400
    assert words in " ".join(response.json()[field])
    assert not ChannelConfig.objects.filter(workspace=workspace).exists()


def test_an_email_service_is_accepted_with_its_options(workspace, admin_api):
    body = admin_api("PUT", "", {"backend": "anymail", "options": {"esp": "Mailgun",
                                                                   "sender_domain": "mg.example.com"},
                                 "secret": "key-123456789"}).json()
    assert body["options"] == {"esp": "mailgun", "sender_domain": "mg.example.com"}
    assert body["secret_hint"] == "••••••••6789"


def test_a_test_email_reaches_the_server(workspace, admin_api, sink):
    admin_api("PUT", "", smtp(sink.port, from_email="news@travel.test"))
    response = admin_api("POST", "test/", {"address": "qa@example.test"})
    assert response.status_code == 200, response.content
    assert response.json() == {"sent": True, "via": f"127.0.0.1:{sink.port}"}
    [received] = sink.received()
    assert received.rcpt_tos == ["qa@example.test"] and received.mail_from == "news@travel.test"
    assert b"Test email from Orchestrate" in received.data


def test_a_wrong_port_gives_a_clear_error(workspace, admin_api):
    admin_api("PUT", "", smtp(free_port()))
    response = admin_api("POST", "test/", {"address": "qa@example.test"})
    assert response.status_code == 502
    body = response.json()
    assert body["sent"] is False
    assert body["error"].startswith("could not reach the server: ConnectionRefusedError")


def test_a_refused_recipient_gives_the_server_reply(workspace, admin_api, sink):
    admin_api("PUT", "", smtp(sink.port))
    body = admin_api("POST", "test/", {"address": "reject@example.test"}).json()
    assert body == {"sent": False, "error": "the server answered 550: 5.1.1 No such user here"}


def test_only_admins_see_or_change_the_configuration(workspace, client):
    for role in ("viewer", "marketer", "approver"):
        _, key = make_api_key(workspace, role=role, name=f"{role} key")
        auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
        url = f"/api/v1/workspaces/{workspace.slug}/channels/email/"
        assert client.get(url, **auth).status_code == 403
        assert client.put(url, json.dumps(smtp(25)), content_type="application/json", **auth).status_code == 403
    assert not ChannelConfig.objects.exists()


def test_the_settings_page_never_shows_the_secret_and_keeps_it_when_left_empty(workspace, alice, client_for, sink):
    c = client_for(alice)
    url = f"/w/{workspace.slug}/settings/email/"
    form = {"backend": "smtp", "host": "127.0.0.1", "port": sink.port, "security": "none", "timeout": 30,
            "secret": SECRET, "window_hours": 12, "max_attempts": 5, "chunk_size": 200, "parallel_tasks": 2,
            "from_email": "news@travel.test"}
    response = c.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    page = c.get(url).content.decode()
    assert SECRET not in page and "••••••••9876" in page
    # saved again with the password field empty: the stored secret stays
    assert c.post(url, {**form, "secret": "", "port": sink.port}).status_code == 302
    assert ChannelConfig.objects.get(workspace=workspace).secret == SECRET
    # and the test button sends through it
    sent = c.post(f"/w/{workspace.slug}/settings/email/test/", {"address": "qa@example.test"}, HTTP_HX_REQUEST="true")
    assert "Sent to qa@example.test" in sent.content.decode()
    assert [r.rcpt_tos for r in sink.received()] == [["qa@example.test"]]


def test_the_settings_page_shows_a_bad_port_on_its_field(workspace, alice, client_for):
    response = client_for(alice).post(f"/w/{workspace.slug}/settings/email/", {
        "backend": "smtp", "host": "mail.example.com", "port": "", "security": "none", "window_hours": 12,
        "max_attempts": 5, "chunk_size": 200, "parallel_tasks": 2, "secret": SECRET})
    assert response.status_code == 422
    assert "1 to 65535" in response.content.decode()
    assert SECRET not in response.content.decode()  # a form sent back with errors does not echo the password
    assert not ChannelConfig.objects.exists()
