"""Login throttling behind the TLS proxy, password spraying, and password reset limits."""

import os
import runpy
from pathlib import Path

from django.core import mail
from django.test import Client, override_settings

from tests.factories import PASSWORD, UserFactory

LOGIN_URL = "/accounts/login/"
RESET_URL = "/accounts/password/reset/"
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def login_from(ip, email, password, forwarded=None):
    extra = {"REMOTE_ADDR": ip}
    if forwarded:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    client = Client(**extra)
    return client, client.post(LOGIN_URL, {"username": email, "password": password})


# --- one lockout per (user, client address) behind the proxy ---------------------------------

@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_the_proxy_a_lockout_of_one_client_does_not_lock_the_user_out_for_others(alice):
    # given: every request arrives from the proxy (10.0.0.2); the client is in X-Forwarded-For
    for _ in range(5):
        _, response = login_from("10.0.0.2", "alice@example.test", "wrong", forwarded="203.0.113.7")
    assert response.status_code == 429
    # when: alice logs in from her own address through the same proxy
    client, response = login_from("10.0.0.2", "alice@example.test", PASSWORD, forwarded="198.51.100.20")
    # then
    assert response.status_code == 302
    assert "_auth_user_id" in client.session
    # and the attacker's address stays locked out, even with the right password
    _, response = login_from("10.0.0.2", "alice@example.test", PASSWORD, forwarded="203.0.113.7")
    assert response.status_code == 429


def test_the_deploy_files_trust_exactly_one_proxy_by_default(monkeypatch):
    env_example = (DEPLOY / ".env.example").read_text()
    assert "\nTRUSTED_PROXY_COUNT=1\n" in env_example
    # gunicorn's config (used by the Procfile and docker-compose) defaults it for the app
    monkeypatch.delenv("TRUSTED_PROXY_COUNT", raising=False)
    runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert os.environ["TRUSTED_PROXY_COUNT"] == "1"
    # an explicit value wins
    monkeypatch.setenv("TRUSTED_PROXY_COUNT", "2")
    runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert os.environ["TRUSTED_PROXY_COUNT"] == "2"


# --- password spraying: failures over many accounts from one address --------------------------

@override_settings(AXES_IP_FAILURE_LIMIT=8)
def test_failures_across_many_accounts_from_one_address_block_that_address(db):
    victims = [UserFactory(email=f"user{n}@example.test") for n in range(8)]
    # given: one wrong password for each of 7 accounts from one address: not blocked yet
    for victim in victims[:7]:
        _, response = login_from("203.0.113.9", victim.email, "Summer2026!")
        assert response.status_code == 200
    # when: the 8th account
    _, response = login_from("203.0.113.9", victims[7].email, "Summer2026!")
    # then: the address is blocked, for any account, even with the right password
    assert response.status_code == 429
    assert "Too many failed logins; try again in 15 minutes." in response.content.decode()
    fresh = UserFactory(email="fresh@example.test")
    client, response = login_from("203.0.113.9", fresh.email, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    # and another address is not affected
    client, response = login_from("198.51.100.1", fresh.email, PASSWORD)
    assert response.status_code == 302


@override_settings(AXES_IP_FAILURE_LIMIT=8)
def test_a_few_failures_from_one_address_do_not_block_it(db):
    user = UserFactory(email="typo@example.test")
    for n in range(3):
        login_from("203.0.113.10", f"someone{n}@example.test", "wrong")
    client, response = login_from("203.0.113.10", user.email, PASSWORD)
    assert response.status_code == 302


# --- password reset: limited per address and per client, same answer -------------------------

def reset_from(ip, email):
    return Client(REMOTE_ADDR=ip).post(RESET_URL, {"email": email})


@override_settings(PASSWORD_RESET_LIMIT_PER_EMAIL=3, PASSWORD_RESET_LIMIT_PER_IP=100)
def test_password_reset_mails_one_address_at_most_n_times_per_hour_and_answers_the_same(alice):
    for n in range(3):
        response = reset_from(f"203.0.113.{n + 1}", "ALICE@example.test" if n else "alice@example.test")
        assert response.status_code == 302
    assert len(mail.outbox) == 3
    # when: a 4th request for the same address, from yet another client
    response = reset_from("203.0.113.50", "alice@example.test")
    # then: the same answer, and no mail
    assert response.status_code == 302
    assert response.url == "/accounts/password/reset/sent/"
    assert len(mail.outbox) == 3


@override_settings(PASSWORD_RESET_LIMIT_PER_EMAIL=100, PASSWORD_RESET_LIMIT_PER_IP=5)
def test_password_reset_requests_from_one_client_are_limited_per_hour(db):
    users = [UserFactory(email=f"member{n}@example.test") for n in range(6)]
    for user in users[:5]:
        assert reset_from("203.0.113.60", user.email).status_code == 302
    assert len(mail.outbox) == 5
    # when: a 6th request from the same client, for another existing address
    response = reset_from("203.0.113.60", users[5].email)
    # then: the same answer, no mail
    assert response.status_code == 302
    assert response.url == "/accounts/password/reset/sent/"
    assert len(mail.outbox) == 5
    # another client still gets its mail
    assert reset_from("198.51.100.60", users[5].email).status_code == 302
    assert [m.to for m in mail.outbox[5:]] == [["member5@example.test"]]


@override_settings(PASSWORD_RESET_LIMIT_PER_EMAIL=1, PASSWORD_RESET_LIMIT_PER_IP=100)
def test_a_limited_reset_for_an_unknown_address_answers_like_a_known_one(alice):
    known = [reset_from("203.0.113.70", "alice@example.test") for _ in range(2)]
    unknown = [reset_from("203.0.113.71", "nobody@example.test") for _ in range(2)]
    assert [(r.status_code, r.url) for r in known] == [(r.status_code, r.url) for r in unknown] == [
        (302, "/accounts/password/reset/sent/")] * 2
    assert len(mail.outbox) == 1
