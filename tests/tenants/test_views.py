"""The HTML screens of the platform foundation: login, workspace pages, members, API keys,
settings, audit log, invitations and password management."""

import hashlib
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.template.loader import render_to_string
from django.test import Client

from apps.tenants import services
from apps.tenants.models import ApiKey, AuditEvent, Invitation, User
from apps.tenants.selectors import member_role
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    OrganizationFactory,
    UserFactory,
    WorkspaceFactory,
    grant,
    make_api_key,
)

LOGIN_URL = "/accounts/login/"
RAW_KEY = re.compile(r"orc_[0-9a-f]{8}_[A-Za-z0-9_-]+")


def login_post(email, password, client=None):
    client = client or Client()
    return client, client.post(LOGIN_URL, {"username": email, "password": password})


def htmx_post(client, url, data=None):
    return client.post(url, data or {}, HTTP_HX_REQUEST="true")


def text(response) -> str:
    return response.content.decode()


def switcher_entries(html: str) -> list[tuple[str, str]]:
    """The workspace switcher, in order: ("org", name) and ("ws", slug) entries."""
    section = re.search(r'<details[^>]*id="workspace-switcher".*?</details>', html, re.S).group(0)
    entries = []
    for org, slug in re.findall(r'class="switcher-org"><a href="/agency/[^"]+"[^>]*>([^<]+)</a>|href="/w/([^/"]+)/"',
                                section):
        entries.append(("org", org.strip()) if org else ("ws", slug))
    return entries


def audit_digest(workspace):
    return list(AuditEvent.objects.filter(workspace=workspace).values_list("verb", flat=True))


# --- login --------------------------------------------------------------------------------

def test_login_with_the_right_password_lands_on_the_agency_home_of_an_owner(alice, workspace):
    # when
    client, response = login_post("alice@example.test", PASSWORD)
    # then
    assert response.status_code == 302
    assert response.url == "/"
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == f"/agency/{workspace.organization.slug}/"
    assert client.get(response.url).status_code == 200
    assert client.get("/w/northwind/").status_code == 200


def test_login_form_has_email_password_and_a_reset_link(db):
    response = Client().get(LOGIN_URL)
    assert response.status_code == 200
    html = text(response)
    assert 'type="email" name="username"' in html
    assert 'type="password" name="password"' in html
    assert 'href="/accounts/password/reset/"' in html


def test_a_wrong_password_shows_a_clear_error(alice):
    client, response = login_post("alice@example.test", "not the password")
    assert response.status_code == 200
    assert "Please enter a correct email address and password." in text(response)
    assert 'aria-invalid="true"' in text(response)
    assert "_auth_user_id" not in client.session


def test_five_failed_logins_lock_the_account_out_for_this_address(alice):
    client = Client()
    for _ in range(4):
        _, response = login_post("alice@example.test", "wrong", client)
        assert response.status_code == 200
    # when: the fifth failure
    _, response = login_post("alice@example.test", "wrong", client)
    # then
    assert response.status_code == 429
    assert "Too many failed logins; try again in 15 minutes." in text(response)
    # and even the right password is refused while locked out
    _, response = login_post("alice@example.test", PASSWORD, client)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_logout_is_a_post_and_returns_to_the_login_page(alice, client_for):
    client = client_for(alice)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response.url == LOGIN_URL
    assert "_auth_user_id" not in client.session


def test_a_user_without_workspaces_is_told_so(client_for, db):
    loner = UserFactory(email="loner@example.test")
    response = client_for(loner).get("/")
    assert response.status_code == 200
    assert "No workspace yet" in text(response)


# --- access to workspace pages ------------------------------------------------------------

def test_an_unknown_workspace_is_a_404_page(alice, client_for):
    response = client_for(alice).get("/w/no-such-workspace/")
    assert response.status_code == 404
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert "Page not found" in text(response)


def test_an_outsider_gets_the_same_404_as_for_a_missing_workspace(charlie, workspace, client_for):
    client = client_for(charlie)
    outsider = client.get("/w/northwind/")
    missing = client.get("/w/no-such-workspace/")
    assert outsider.status_code == missing.status_code == 404
    assert "Northwind" not in re.sub(r'<details[^>]*id="workspace-switcher".*?</details>', "",
                                     text(outsider), flags=re.S)


def test_anonymous_visitors_are_sent_to_the_login_page(workspace):
    response = Client().get("/w/northwind/members/")
    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/w/northwind/members/"


def test_a_role_that_is_too_low_gets_a_403_page_with_the_reason(mallory, client_for):
    response = client_for(mallory).get("/w/northwind/api-keys/")
    assert response.status_code == 403
    assert "This needs the workspace admin role or higher in Northwind." in text(response)


# --- workspace home ---------------------------------------------------------------------------

def test_workspace_home_shows_the_workspace_its_members_and_recent_activity(alice, bob, workspace, client_for):
    services.workspace_update(workspace=workspace, actor=alice, sender_name="Northwind News")
    response = client_for(alice).get("/w/northwind/")
    assert response.status_code == 200
    html = text(response)
    assert "<h1>Northwind</h1>" in html
    assert "Europe/Amsterdam" in html
    # the settings are on their own page, linked for admins
    assert 'href="/w/northwind/settings/" id="home-settings-link"' in html
    members = re.search(r'<ul class="plain-list" id="home-members">(.*?)</ul>', html, re.S).group(1)
    assert re.findall(r"[a-z]+@example\.test", members) == ["alice@example.test", "bob@example.test"]
    events = re.search(r'<table[^>]*id="home-events">(.*?)</table>', html, re.S).group(1)
    assert re.findall(r"<code>([^<]+)</code>", events) == ["workspace.updated", "member.added"]
    assert "alice@example.test" in events


def test_the_switcher_groups_workspaces_by_agency_and_hides_other_agencies(alice, workspace, charlie, client_for):
    # given: a second client of alice's agency, and a viewer role in another agency
    WorkspaceFactory(organization=workspace.organization, name="Acme", slug="acme")
    zeta = OrganizationFactory(name="Zeta Partners")
    grant(alice, WorkspaceFactory(organization=zeta, name="Globex", slug="globex"), "viewer")
    WorkspaceFactory(organization=zeta, name="Initech", slug="initech")  # no role there
    # when
    response = client_for(alice).get("/w/northwind/")
    # then
    assert switcher_entries(text(response)) == [
        ("org", workspace.organization.name), ("ws", "acme"), ("ws", "northwind"),
        ("org", "Zeta Partners"), ("ws", "globex"),
    ]


def test_admin_links_show_for_admins_only(alice, bob, client_for):
    admin_page = text(client_for(alice).get("/w/northwind/"))
    viewer_page = text(client_for(bob).get("/w/northwind/"))
    for link in ('href="/w/northwind/api-keys/"', 'href="/w/northwind/settings/"'):
        assert link in admin_page
        assert link not in viewer_page
    for link in ('href="/w/northwind/members/"', 'href="/w/northwind/audit/"'):
        assert link in admin_page
        assert link in viewer_page


def test_workspace_home_runs_a_fixed_number_of_queries(alice, workspace, client_for,
                                                       django_assert_max_num_queries):
    # session, user, workspace + role (2), members (3), switcher (2), events, and the
    # ATOMIC_REQUESTS savepoint pair; the members' user query only runs once there are any;
    # the reports panel: the 30 days' figures, their series, the latest deliveries (and
    # their figures, once there are any).
    client = client_for(alice)
    client.get("/w/northwind/")  # warm the content type cache
    with django_assert_max_num_queries(16):
        assert client.get("/w/northwind/").status_code == 200
    # more members and events do not add queries
    for n in range(10):
        grant(UserFactory(email=f"extra{n}@example.test"), workspace, "marketer")
    with django_assert_max_num_queries(16):
        assert client.get("/w/northwind/").status_code == 200


# --- members ---------------------------------------------------------------------------------

def test_admin_adds_an_existing_user_and_htmx_gets_only_the_panel(alice, workspace, client_for):
    dave = UserFactory(email="dave@example.test")
    response = htmx_post(client_for(alice), "/w/northwind/members/",
                         {"email": "Dave@Example.test", "role": "approver"})
    assert response.status_code == 200
    assert response["HX-Trigger"] == "membersChanged"
    html = text(response)
    assert html.lstrip().startswith('<section id="members-panel">')
    assert "<html" not in html
    assert "dave@example.test was added as Approver." in html
    assert member_role(workspace=workspace, user=dave) == "approver"
    event = AuditEvent.objects.get(workspace=workspace, verb="member.added", target_id=str(dave.pk))
    assert event.actor == alice
    assert event.data == {"old": None, "new": "approver"}


def test_adding_without_htmx_redirects_and_flashes(alice, workspace, client_for):
    UserFactory(email="dave@example.test")
    response = client_for(alice).post("/w/northwind/members/", {"email": "dave@example.test",
                                                                "role": "viewer"}, follow=True)
    assert response.redirect_chain == [("/w/northwind/members/", 302)]
    assert "dave@example.test was added as Viewer." in text(response)


def test_a_bad_email_is_a_field_error_in_the_panel(alice, workspace, client_for):
    before = audit_digest(workspace)
    response = htmx_post(client_for(alice), "/w/northwind/members/", {"email": "not-an-email",
                                                                       "role": "viewer"})
    assert response.status_code == 422
    assert "HX-Trigger" not in response
    assert "Enter a valid email address." in text(response)
    assert audit_digest(workspace) == before


def test_members_of_the_agency_show_as_agency_admin_and_cannot_be_changed_here(alice, bob, client_for):
    html = text(client_for(alice).get("/w/northwind/members/"))
    alice_row = re.search(rf'<tr id="member-{alice.pk}">(.*?)</tr>', html, re.S).group(1)
    bob_row = re.search(rf'<tr id="member-{bob.pk}">(.*?)</tr>', html, re.S).group(1)
    assert "agency admin" in alice_row
    assert "<select" not in alice_row and "Remove" not in alice_row
    assert f'action="/w/northwind/members/{bob.pk}/role/"' in bob_row
    assert f'action="/w/northwind/members/{bob.pk}/remove/"' in bob_row
    assert 'hx-target="#members-panel" hx-swap="outerHTML"' in bob_row


def test_admin_invites_an_unknown_address_who_accepts_and_gets_the_role(
        alice, workspace, client_for, django_capture_on_commit_callbacks):
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(alice).post("/w/northwind/members/",
                                          {"email": "erin@example.test", "role": "marketer"})
    # then
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["erin@example.test"]
    path = re.search(r"https?://[^/\s]+(/invitations/[^/\s]+/)", mail.outbox[0].body).group(1)
    members_page = text(client_for(alice).get("/w/northwind/members/"))
    assert "erin@example.test" in re.search(r'id="invitations-table">(.*?)</table>', members_page, re.S).group(1)

    # when: erin follows the link and sets a password
    erin_client = Client()
    page = erin_client.get(path)
    assert page.status_code == 200
    assert "Join Northwind" in text(page)
    response = erin_client.post(path, {"first_name": "Erin", "last_name": "Doe",
                                       "password1": "a-long-new-passphrase", "password2": "a-long-new-passphrase"})
    # then
    assert response.status_code == 302
    assert response.url == "/w/northwind/"
    erin = User.objects.get(email="erin@example.test")
    assert erin.check_password("a-long-new-passphrase")
    assert erin.get_full_name() == "Erin Doe"
    assert member_role(workspace=workspace, user=erin) == "marketer"
    assert erin_client.get("/w/northwind/").status_code == 200
    # and the link works once
    again = Client().get(path)
    assert again.status_code == 404
    assert "This invitation is not valid" in text(again)


def test_accepting_an_invitation_checks_the_passwords(alice, workspace):
    services.invitation_create(workspace=workspace, actor=alice, email="erin@example.test", role="viewer")
    # the token is only in the (unsent) email: make a fresh invitation with a known token
    invitation = Invitation.objects.get()
    token = "known-token-for-the-test"
    Invitation.objects.filter(pk=invitation.pk).update(token_hash=hashlib.sha256(token.encode()).hexdigest())
    response = Client().post(f"/invitations/{token}/", {"first_name": "Erin", "password1": "a-long-new-passphrase",
                                                        "password2": "something else"})
    assert response.status_code == 200
    assert "The two passwords differ." in text(response)
    assert not User.objects.filter(email="erin@example.test").exists()


def test_admin_changes_a_role(alice, bob, workspace, client_for):
    response = client_for(alice).post(f"/w/northwind/members/{bob.pk}/role/", {"role": "marketer"}, follow=True)
    assert response.redirect_chain == [("/w/northwind/members/", 302)]
    assert "bob@example.test is now Marketer." in text(response)
    assert member_role(workspace=workspace, user=bob) == "marketer"
    event = AuditEvent.objects.get(workspace=workspace, verb="member.role_changed")
    assert event.data == {"old": "viewer", "new": "marketer"}


def test_admin_changes_a_role_with_htmx(alice, bob, workspace, client_for):
    response = htmx_post(client_for(alice), f"/w/northwind/members/{bob.pk}/role/", {"role": "approver"})
    assert response.status_code == 200
    assert response["HX-Trigger"] == "membersChanged"
    assert text(response).lstrip().startswith('<section id="members-panel">')
    assert member_role(workspace=workspace, user=bob) == "approver"


def test_admin_removes_a_member(alice, bob, workspace, client_for):
    response = htmx_post(client_for(alice), f"/w/northwind/members/{bob.pk}/remove/")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "membersChanged"
    assert "bob@example.test was removed from Northwind." in text(response)
    assert member_role(workspace=workspace, user=bob) is None
    assert client_for(bob).get("/w/northwind/").status_code == 404


def test_admin_cancels_an_invitation(alice, workspace, client_for):
    invitation = services.invitation_create(workspace=workspace, actor=alice, email="erin@example.test",
                                            role="viewer")
    response = client_for(alice).post(f"/w/northwind/invitations/{invitation.pk}/cancel/")
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.cancelled_at is not None
    assert "invitations-table" not in text(client_for(alice).get("/w/northwind/members/"))


def test_a_viewer_can_look_but_not_change_members(alice, bob, mallory, workspace, client_for):
    invitation = services.invitation_create(workspace=workspace, actor=alice, email="erin@example.test",
                                            role="viewer")
    UserFactory(email="dave@example.test")
    before = audit_digest(workspace)
    client = client_for(bob)
    page = client.get("/w/northwind/members/")
    assert page.status_code == 200
    assert "<select" not in text(page)
    assert "erin@example.test" not in text(page)
    # when
    responses = [
        client.post("/w/northwind/members/", {"email": "dave@example.test", "role": "admin"}),
        htmx_post(client, f"/w/northwind/members/{mallory.pk}/role/", {"role": "admin"}),
        client.post(f"/w/northwind/members/{bob.pk}/role/", {"role": "admin"}),
        client.post(f"/w/northwind/members/{mallory.pk}/remove/"),
        client.post(f"/w/northwind/invitations/{invitation.pk}/cancel/"),
    ]
    # then
    assert [r.status_code for r in responses] == [403] * 5
    assert member_role(workspace=workspace, user=bob) == "viewer"
    assert member_role(workspace=workspace, user=mallory) == "marketer"
    assert not User.objects.get(email="dave@example.test").memberships.exists()
    invitation.refresh_from_db()
    assert invitation.cancelled_at is None
    assert audit_digest(workspace) == before


# --- API keys ----------------------------------------------------------------------------------

def test_admin_creates_a_key_shown_once_and_stored_only_as_a_hash(alice, workspace, client_for):
    client = client_for(alice)
    # when
    response = client.post("/w/northwind/api-keys/", {"name": "CRM sync", "role": "marketer"})
    # then
    assert response.status_code == 200
    html = text(response)
    raws = RAW_KEY.findall(html)
    assert len(raws) == 1
    raw = raws[0]
    assert re.search(r'<article id="new-api-key"[^>]*>.*?' + re.escape(raw), html, re.S)
    assert "it won't be shown again" in html
    assert "no-store" in response["Cache-Control"]
    key = ApiKey.objects.get(workspace=workspace)
    assert key.name == "CRM sync"
    assert key.role == "marketer"
    assert key.created_by == alice
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw.startswith(f"orc_{key.prefix}_")
    assert raw not in str(list(ApiKey.objects.values()))
    # and the listing shows the key but never the secret again
    listing = text(client.get("/w/northwind/api-keys/"))
    row = re.search(rf'<tr id="apikey-{key.pk}"[^>]*>(.*?)</tr>', listing, re.S).group(1)
    assert "CRM sync" in row and f"{key.prefix}…" in row and "alice@example.test" in row
    assert re.search(r'class="badge status-active">active<', row)
    assert raw not in listing
    assert 'id="new-api-key"' not in listing
    # and the key works on the API
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/workspaces/northwind/")
    assert api.status_code == 200
    assert api.json()["slug"] == "northwind"
    assert api.json()["role"] == "marketer"


def test_creating_a_key_with_htmx_returns_the_panel_and_an_event(alice, workspace, client_for):
    response = htmx_post(client_for(alice), "/w/northwind/api-keys/", {"name": "Pipeline", "role": "viewer"})
    assert response.status_code == 200
    assert response["HX-Trigger"] == "apiKeysChanged"
    html = text(response)
    assert html.lstrip().startswith('<section id="apikeys-panel">')
    assert len(RAW_KEY.findall(html)) == 1
    assert 'id="new-api-key"' in html


def test_a_key_expiry_is_read_in_the_workspace_time_zone(alice, workspace, client_for):
    client_for(alice).post("/w/northwind/api-keys/", {"name": "Temp", "role": "viewer",
                                                      "expires_at": "2099-01-01T10:00"})
    key = ApiKey.objects.get(workspace=workspace)
    assert key.expires_at == datetime(2099, 1, 1, 10, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    listing = text(client_for(alice).get("/w/northwind/api-keys/"))
    assert "2099-01-01 10:00" in listing


def test_a_duplicate_key_name_is_a_field_error(alice, workspace, client_for):
    make_api_key(workspace, name="CRM sync")
    response = client_for(alice).post("/w/northwind/api-keys/", {"name": "CRM sync", "role": "viewer"})
    assert response.status_code == 200
    assert response.context["form"].errors == {"name": ["An active key named 'CRM sync' already exists."]}
    assert RAW_KEY.findall(text(response)) == []
    assert ApiKey.objects.filter(workspace=workspace).count() == 1


def test_admin_revokes_a_key(alice, workspace, client_for):
    key, raw = make_api_key(workspace, name="Old CRM")
    response = htmx_post(client_for(alice), f"/w/northwind/api-keys/{key.pk}/revoke/")
    assert response.status_code == 200
    assert response["HX-Trigger"] == "apiKeysChanged"
    row = re.search(rf'<tr id="apikey-{key.pk}"[^>]*>(.*?)</tr>', text(response), re.S).group(1)
    assert re.search(r'class="badge status-revoked"[^>]*>revoked<', row)
    assert "Revoke</button>" not in row
    key.refresh_from_db()
    assert key.revoked_at is not None
    api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/workspaces/northwind/")
    assert api.status_code == 401


def test_a_marketer_cannot_see_or_create_keys(mallory, workspace, client_for):
    client = client_for(mallory)
    assert client.get("/w/northwind/api-keys/").status_code == 403
    response = client.post("/w/northwind/api-keys/", {"name": "Sneaky", "role": "admin"})
    assert response.status_code == 403
    assert RAW_KEY.findall(text(response)) == []
    assert ApiKey.objects.count() == 0


# --- settings -----------------------------------------------------------------------------------

SETTINGS = {"name": "Northwind", "time_zone": "Europe/Amsterdam", "default_language": "en",
            "sender_name": "", "sender_email": "", "reply_to_email": ""}


def test_admin_changes_the_time_zone_and_the_audit_log_keeps_old_and_new(alice, workspace, client_for):
    response = client_for(alice).post("/w/northwind/settings/", {**SETTINGS, "time_zone": "America/New_York"},
                                      follow=True)
    assert response.redirect_chain == [("/w/northwind/settings/", 302)]
    assert "Settings saved." in text(response)
    workspace.refresh_from_db()
    assert workspace.time_zone == "America/New_York"
    event = AuditEvent.objects.get(workspace=workspace, verb="workspace.updated")
    assert event.actor == alice
    assert event.data == {"time_zone": {"old": "Europe/Amsterdam", "new": "America/New_York"}}
    log = text(client_for(alice).get("/w/northwind/audit/"))
    assert "Changed the settings of Northwind: Time zone: Europe/Amsterdam → America/New_York" in log
    assert "Time zone: Europe/Amsterdam → America/New_York" in log  # the details column


def test_an_unknown_time_zone_is_a_field_error_and_changes_nothing(alice, workspace, client_for):
    before = audit_digest(workspace)
    response = client_for(alice).post("/w/northwind/settings/", {**SETTINGS, "time_zone": "Mars/Olympus_Mons",
                                                                 "name": "Renamed"})
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "time_zone": ["'Mars/Olympus_Mons' is not a known IANA time zone (e.g. Europe/Amsterdam)."]}
    assert "is not a known IANA time zone" in text(response)
    workspace.refresh_from_db()
    assert (workspace.name, workspace.time_zone) == ("Northwind", "Europe/Amsterdam")
    assert audit_digest(workspace) == before


def test_the_settings_page_is_for_admins(alice, mallory, workspace, client_for):
    page = client_for(alice).get("/w/northwind/settings/")
    assert page.status_code == 200
    assert '<option value="Europe/Amsterdam" selected>' in text(page)
    assert client_for(mallory).get("/w/northwind/settings/").status_code == 403
    response = client_for(mallory).post("/w/northwind/settings/", {**SETTINGS, "name": "Hacked"})
    assert response.status_code == 403
    workspace.refresh_from_db()
    assert workspace.name == "Northwind"


# --- audit log -----------------------------------------------------------------------------------

def test_the_audit_log_pages_newest_first(bob, workspace, client_for):
    for n in range(55):
        services.audit_record(workspace=workspace, actor=None, verb=f"test.event{n}", ip_address="10.0.0.1")
    client = client_for(bob)
    first = text(client.get("/w/northwind/audit/"))
    assert re.findall(r'data-verb="(test\.event\d+)"', first)[:2] == ["test.event54", "test.event53"]
    assert "Page 1 of 2" in first
    assert 'href="?page=2"' in first
    second = text(client.get("/w/northwind/audit/?page=2"))
    # 55 test events + bob's own "member.added": 6 on page 2
    assert re.findall(r'data-verb="([a-z.]+\d*)"', second) == [
        "test.event4", "test.event3", "test.event2", "test.event1", "test.event0", "member.added"]
    assert "10.0.0.1" in second


# --- passwords ---------------------------------------------------------------------------------

def test_password_reset_email_link_sets_a_new_password(alice):
    client = Client()
    response = client.post("/accounts/password/reset/", {"email": "alice@example.test"})
    assert response.status_code == 302
    assert response.url == "/accounts/password/reset/sent/"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Reset your Orchestrate password"
    assert mail.outbox[0].to == ["alice@example.test"]
    link = re.search(r"http://testserver(/accounts/password/reset/[^/\s]+/[^/\s]+/)", mail.outbox[0].body).group(1)
    # when: the link is opened (Django swaps the token for a session and redirects)
    response = client.get(link)
    assert response.status_code == 302
    form_page = client.get(response.url)
    assert form_page.status_code == 200
    assert "Set a new password" in text(form_page)
    response = client.post(response.url, {"new_password1": "brand new passphrase",
                                          "new_password2": "brand new passphrase"})
    # then
    assert response.status_code == 302
    assert response.url == "/accounts/password/reset/complete/"
    alice.refresh_from_db()
    assert alice.check_password("brand new passphrase")
    _, login = login_post("alice@example.test", "brand new passphrase")
    assert login.status_code == 302


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(db):
    response = Client().post("/accounts/password/reset/", {"email": "nobody@example.test"})
    assert response.status_code == 302
    assert response.url == "/accounts/password/reset/sent/"
    assert mail.outbox == []


def test_password_change(alice, client_for):
    client = client_for(alice)
    assert client.get("/accounts/password/change/").status_code == 200
    response = client.post("/accounts/password/change/", {"old_password": PASSWORD,
                                                          "new_password1": "another long passphrase",
                                                          "new_password2": "another long passphrase"})
    assert response.status_code == 302
    assert response.url == "/accounts/password/change/done/"
    alice.refresh_from_db()
    assert alice.check_password("another long passphrase")


def test_password_change_with_a_wrong_old_password_shows_the_error(alice, client_for):
    response = client_for(alice).post("/accounts/password/change/", {
        "old_password": "nope", "new_password1": "another long passphrase",
        "new_password2": "another long passphrase"})
    assert response.status_code == 200
    assert "Your old password was entered incorrectly." in text(response)
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


# --- error pages ---------------------------------------------------------------------------------

def test_the_500_page_renders_without_a_request_or_database():
    # no `db` fixture: any query would raise here
    html = render_to_string("errors/500.html")
    assert "Something went wrong on our side" in html
    assert "{%" not in html


@pytest.mark.parametrize("path", ["/", "/w/northwind/"])
def test_pages_link_only_vendored_assets(path, alice, client_for):
    response = client_for(alice).get(path, follow=True)
    html = text(response)
    assert set(re.findall(r'(?:href|src)="(/static/[^"]+)"', html)) <= {
        "/static/vendor/pico/pico.min.css", "/static/css/app.css", "/static/vendor/htmx/htmx.min.js",
        "/static/css/reports.css"}
    assert "//cdn" not in html and "https://" not in html
    assert 'hx-headers=\'{"X-CSRFToken": "' in html


def test_an_agency_admin_reaches_the_workspace_as_agency_admin(alice, workspace, client_for):
    """An agency admin (not owner) also reaches every workspace of the agency."""
    admin = UserFactory(email="agency-admin@example.test")
    MembershipFactory(organization=workspace.organization, user=admin, role="admin")
    response = client_for(admin).get("/w/northwind/members/")
    assert response.status_code == 200
    row = re.search(rf'<tr id="member-{admin.pk}">(.*?)</tr>', text(response), re.S).group(1)
    assert "agency admin" in row


def _known_invitation(workspace, email, role="viewer", token="known-token-for-the-test"):
    invitation = services.invitation_create(workspace=workspace, actor=None, email=email, role=role)
    Invitation.objects.filter(pk=invitation.pk).update(token_hash=hashlib.sha256(token.encode()).hexdigest())
    return f"/invitations/{token}/"


def test_an_invitation_for_an_existing_account_needs_that_account_logged_in(alice, workspace, client_for):
    # given dave has an account (made after he was invited) and an invitation link
    path = _known_invitation(workspace, "dave@example.test", role="approver")
    dave = UserFactory(email="dave@example.test")
    # when someone opens the link without being dave
    response = Client().get(path)
    # then they are sent to log in, and nothing was granted
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=")
    assert member_role(workspace=workspace, user=dave) is None
    assert client_for(alice).get(path).status_code == 302  # another logged-in user neither
    # when dave, logged in, accepts
    dave_client = client_for(dave)
    assert "Accept and open" in text(dave_client.get(path))
    response = dave_client.post(path)
    assert response.status_code == 302
    assert member_role(workspace=workspace, user=dave) == "approver"
    assert dave.check_password(PASSWORD)  # his password was never touched


def test_login_ignores_the_case_of_the_email(alice, workspace):
    _, response = login_post("Alice@Example.TEST", PASSWORD)
    assert response.status_code == 302


def test_lockout_counts_every_capitalisation_as_one_address(alice):
    client = Client()
    for variant in ("alice@example.test", "ALICE@example.test", "Alice@example.test", "alice@EXAMPLE.test",
                    "aLice@example.test"):
        login_post(variant, "wrong password", client)
    _, response = login_post("alice@example.test", PASSWORD, client)
    assert response.status_code == 429
