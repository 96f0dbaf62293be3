"""Workspace SMTP servers (and ESP API addresses) on loopback, private, link-local or
reserved addresses are refused when saved and again when connecting (the name is
resolved once and the connection goes to the checked address), unless the operator sets
CHANNEL_SMTP_ALLOW_PRIVATE_HOSTS. A refused host's test send says the same whatever the
port: nothing tells an open port from a closed one."""

import socket

import pytest
from django.test import override_settings

from apps.channels.models import ChannelConfig
from apps.core import net
from tests.channels.test_channel_config import admin_api, free_port, smtp  # noqa: F401 - fixture

GUARDED = override_settings(CHANNEL_SMTP_ALLOW_PRIVATE_HOSTS=False)
REFUSED = ("it is or resolves to a loopback, private, link-local or reserved address, which this platform does "
           "not connect to")
REAL_GETADDRINFO = socket.getaddrinfo


def fake_dns(monkeypatch, answers: dict[str, list[str]]):
    """Answers for made-up names (the test's DNS); other names resolve as usual."""
    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            ip = answers[host].pop(0) if len(answers[host]) > 1 else answers[host][0]
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            address = (ip, port, 0, 0) if family == socket.AF_INET6 else (ip, port)
            return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", address)]
        return REAL_GETADDRINFO(host, port, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "239.255.255.250", "255.255.255.255", "192.0.2.1", "240.0.0.1",
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "2002:7f00:1::1", "64:ff9b::7f00:1", "2001:db8::1",
])
def test_non_public_addresses_are_recognised(address):
    assert net.address_is_public(address) is False


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses_are_recognised(address):
    assert net.address_is_public(address) is True


@GUARDED
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "::ffff:127.0.0.1", "169.254.169.254",
                                  "10.0.0.5", "0.0.0.0"])
def test_a_private_smtp_host_is_refused_when_saved(workspace, admin_api, host):  # noqa: F811
    response = admin_api("PUT", "", {"backend": "smtp", "options": {"host": host, "port": 25}})
    assert response.status_code == 400, response.content
    assert response.json() == {"host": [f"{host!r} is not allowed: {REFUSED}"]}
    assert ChannelConfig.objects.filter(workspace=workspace).count() == 0


@GUARDED
def test_a_name_with_one_private_address_among_public_ones_is_refused(workspace, admin_api, monkeypatch):  # noqa: F811
    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    response = admin_api("PUT", "", {"backend": "smtp", "options": {"host": "mail.mixed.test", "port": 25}})
    assert response.status_code == 400
    assert response.json() == {"host": [f"'mail.mixed.test' is not allowed: {REFUSED}"]}


@GUARDED
def test_an_esp_api_address_on_a_private_network_is_refused(workspace, admin_api):  # noqa: F811
    response = admin_api("PUT", "", {"backend": "anymail", "options": {
        "esp": "mailgun", "api_url": "http://169.254.169.254/latest/"}})
    assert response.status_code == 400, response.content
    assert response.json() == {"api_url": [f"'169.254.169.254' is not allowed: {REFUSED}"]}
    assert ChannelConfig.objects.filter(workspace=workspace).count() == 0


def test_the_operator_setting_allows_private_hosts(workspace, admin_api):  # noqa: F811
    response = admin_api("PUT", "", smtp(2525))
    assert response.status_code == 200
    assert ChannelConfig.objects.get(workspace=workspace).options["host"] == "127.0.0.1"


@pytest.mark.parametrize("listening", [True, False])
def test_the_test_send_to_a_refused_host_says_the_same_for_open_and_closed_ports(workspace, admin_api, sink,  # noqa: F811
                                                                                 listening):
    # given a configuration saved while private hosts were allowed (or before this check)
    port = sink.port if listening else free_port()
    assert admin_api("PUT", "", smtp(port)).status_code == 200
    # when the test email is sent with the guard on
    with GUARDED:
        response = admin_api("POST", "test/", {"address": "qa@example.test"})
    # then it is refused before any connection, in words that do not depend on the port
    assert response.status_code == 502
    assert response.json() == {"sent": False, "error": f"the SMTP server '127.0.0.1' is not allowed: {REFUSED}"}
    assert sink.received() == []


def test_the_connection_goes_to_the_address_that_was_checked(workspace, admin_api, sink, monkeypatch):  # noqa: F811
    # given a name whose first answer is public and every later one is loopback (DNS rebinding)
    fake_dns(monkeypatch, {"mail.rebind.test": ["93.184.216.34", "127.0.0.1"]})
    with GUARDED:
        saved = admin_api("PUT", "", {"backend": "smtp", "options": {"host": "mail.rebind.test", "port": sink.port}})
        assert saved.status_code == 200, saved.content
        # when the test email is sent, the name now resolves to loopback: refused
        response = admin_api("POST", "test/", {"address": "qa@example.test"})
    assert response.json() == {"sent": False,
                               "error": f"the SMTP server 'mail.rebind.test' is not allowed: {REFUSED}"}
    assert sink.received() == []


def test_a_name_is_connected_through_its_resolved_address(workspace, admin_api, sink, monkeypatch):  # noqa: F811
    fake_dns(monkeypatch, {"mail.sink.test": ["127.0.0.1"]})
    assert admin_api("PUT", "", {"backend": "smtp", "options": {"host": "mail.sink.test", "port": sink.port}}
                     ).status_code == 200
    response = admin_api("POST", "test/", {"address": "qa@example.test"})
    assert response.json() == {"sent": True, "via": f"mail.sink.test:{sink.port}"}
    assert [r.rcpt_tos for r in sink.received()] == [["qa@example.test"]]


def test_a_live_send_to_a_refused_host_fails_each_message_without_connecting(workspace, travel, email_config, sink,
                                                                          queue, sends):
    from apps.channels.models import Delivery, Message
    from tests.channels.test_sending import live_run

    # given a configuration saved before the guard (the sink on loopback)
    with GUARDED:
        run = live_run(workspace)
        queue()
        sends()
    delivery = Delivery.objects.get(run=run)
    assert list(Message.objects.filter(delivery=delivery).values_list("status", "reason", "error")) == [
        ("failed", "rejected", f"host_refused the SMTP server '127.0.0.1' is not allowed: {REFUSED}")] * 3
    assert sink.received() == []
