"""The agency's home: every client with its last 30 days, and the owner's management of
client workspaces (create, rename, archive, restore, invite), each tried by an outsider."""

from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.channels import events
from apps.channels.models import Message
from apps.tenants.models import AuditEvent, Invitation, Workspace
from tests.channels.delivery_rows import make_delivery
from tests.factories import WorkspaceFactory


def _sent(workspace, n, complaints=0):
    delivery = make_delivery(workspace, statuses={"queued": n})
    Message.objects.filter(delivery=delivery).update(status="sent", sent_at=timezone.now())
    for message in Message.objects.filter(delivery=delivery)[:complaints]:
        events.event_record(message=message, type="complained", data={})
    return delivery


def _page(client, org, **params):
    response = client.get(f"/agency/{org.slug}/", params)
    assert response.status_code == 200
    return response.content.decode()


def test_the_owner_sees_every_client_with_its_figures_sorted_and_searched(client_for, alice, workspace):
    acme = WorkspaceFactory(organization=workspace.organization, name="Acme Travel", slug="acme-travel")
    _sent(workspace, 4)
    _sent(acme, 200, complaints=1)  # 0.5 %: over the providers' 0.3 % limit
    html = _page(client_for(alice), workspace.organization)
    assert 'data-workspace="northwind"' in html and 'data-workspace="acme-travel"' in html
    assert "204 messages sent" in html
    acme_row = html.split('data-workspace="acme-travel"')[1].split("</tr>")[0]
    assert '<td class="num" data-col="sent">200</td>' in acme_row
    assert "rate-alarm" in acme_row and "0.50 %" in acme_row
    # sorted by messages, most first; then searched
    by_sent = _page(client_for(alice), workspace.organization, sort="-sent")
    assert by_sent.index('data-workspace="acme-travel"') < by_sent.index('data-workspace="northwind"')
    found = _page(client_for(alice), workspace.organization, q="acme")
    assert 'data-workspace="acme-travel"' in found and 'data-workspace="northwind"' not in found
    # nonsense sort keys fall back to the name
    assert _page(client_for(alice), workspace.organization, sort="-password")


def test_the_home_costs_the_same_queries_for_two_clients_or_eight(client_for, alice, workspace):
    client = client_for(alice)
    WorkspaceFactory(organization=workspace.organization)
    client.get(f"/agency/{workspace.organization.slug}/")
    with CaptureQueriesContext(connection) as few:
        _page(client, workspace.organization)
    for _ in range(6):
        _sent(WorkspaceFactory(organization=workspace.organization), 1)
    with CaptureQueriesContext(connection) as many:
        _page(client, workspace.organization)
    assert len(many) == len(few)


def test_a_workspace_member_sees_only_their_clients_and_cannot_manage(client_for, bob, workspace):
    WorkspaceFactory(organization=workspace.organization, name="Hidden", slug="hidden-client")
    client = client_for(bob)
    html = _page(client, workspace.organization)
    assert 'data-workspace="northwind"' in html and "hidden-client" not in html
    assert "agency-new-workspace" not in html and "agency-invite-form" not in html
    org = workspace.organization.slug
    assert client.get(f"/agency/{org}/workspaces/new/").status_code == 403
    assert client.post(f"/agency/{org}/workspaces/northwind/archive/").status_code == 403
    assert Workspace.objects.get(slug="northwind").archived_at is None


def test_outsiders_get_404_and_change_nothing(client_for, charlie, alice, workspace, other_workspace):
    org = workspace.organization.slug
    client = client_for(charlie)
    for method, url, data in [
            ("get", f"/agency/{org}/", {}), ("get", f"/agency/{org}/workspaces/new/", {}),
            ("post", f"/agency/{org}/workspaces/new/", {"name": "X", "slug": "x-by-charlie", "time_zone": "UTC",
                                                          "default_language": "en"}),
            ("post", f"/agency/{org}/workspaces/northwind/rename/", {"name": "Pwned"}),
            ("post", f"/agency/{org}/workspaces/northwind/archive/", {}),
            ("post", f"/agency/{org}/invite/", {"email": "x@example.test", "workspace": "northwind",
                                                 "role": "admin"})]:
        assert getattr(client, method)(url, data).status_code == 404, url
    # the owner of another agency cannot reach this one's workspace through their own agency either
    theirs = other_workspace.organization.slug
    assert client.post(f"/agency/{theirs}/workspaces/northwind/archive/").status_code == 404
    assert client_for(alice).post(f"/agency/{org}/workspaces/{other_workspace.slug}/archive/").status_code == 404
    workspace.refresh_from_db()
    other_workspace.refresh_from_db()
    assert workspace.name == "Northwind" and workspace.archived_at is None and other_workspace.archived_at is None
    assert not Workspace.objects.filter(slug="x-by-charlie").exists()
    assert not Invitation.objects.filter(email="x@example.test").exists()


def test_the_owner_creates_renames_archives_restores_and_invites(client_for, alice, workspace,
                                                               django_capture_on_commit_callbacks):
    client = client_for(alice)
    org = workspace.organization.slug
    bad = client.post(f"/agency/{org}/workspaces/new/", {"name": "Acme", "slug": "northwind", "time_zone": "Mars/Base",
                                                         "default_language": "en"})
    assert bad.status_code == 422 and "time zone" in bad.content.decode()
    created = client.post(f"/agency/{org}/workspaces/new/", {
        "name": "Acme Outdoor", "slug": "acme-outdoor", "time_zone": "Europe/Paris", "default_language": "fr",
        "sender_name": "Acme", "sender_email": "news@acme.test", "reply_to_email": ""})
    assert created.status_code == 302 and created["Location"] == "/w/acme-outdoor/"
    acme = Workspace.objects.get(slug="acme-outdoor")
    assert (acme.organization_id, acme.time_zone, acme.default_language) == (workspace.organization_id,
                                                                             "Europe/Paris", "fr")
    assert client.post(f"/agency/{org}/workspaces/acme-outdoor/rename/", {"name": "Acme Outdoors"}).status_code == 302
    assert client.post(f"/agency/{org}/workspaces/acme-outdoor/rename/", {"name": "Two\nlines"}).status_code == 302
    acme.refresh_from_db()
    assert acme.name == "Acme Outdoors"
    client.post(f"/agency/{org}/workspaces/acme-outdoor/archive/")
    acme.refresh_from_db()
    assert acme.archived_at is not None
    assert 'data-workspace="acme-outdoor"' not in _page(client, workspace.organization)
    assert 'data-workspace="acme-outdoor"' in _page(client, workspace.organization, archived="1")
    client.post(f"/agency/{org}/workspaces/acme-outdoor/restore/")
    acme.refresh_from_db()
    assert acme.archived_at is None
    with django_capture_on_commit_callbacks(execute=True):
        invited = client.post(f"/agency/{org}/invite/", {"email": "Dana@Example.test", "workspace": "acme-outdoor",
                                                         "role": "marketer"})
    assert invited.status_code == 302
    assert Invitation.objects.get(workspace=acme, email="dana@example.test").role == "marketer"
    assert mail.outbox and "dana@example.test" in mail.outbox[-1].to
    verbs = set(AuditEvent.objects.filter(workspace=acme).values_list("verb", flat=True))
    assert {"workspace.created", "workspace.updated"} <= verbs


def test_login_lands_on_the_agency_home_or_the_last_workspace(client_for, alice, bob, workspace):
    assert client_for(alice).get("/")["Location"] == f"/agency/{workspace.organization.slug}/"
    second = WorkspaceFactory(organization=workspace.organization, slug="second-client")
    from tests.factories import grant
    grant(bob, second, "viewer")
    client = client_for(bob)
    client.get("/w/second-client/")
    assert client.get("/")["Location"] == "/w/second-client/"
    client.get("/w/northwind/")
    assert client.get("/")["Location"] == "/w/northwind/"


def test_the_workspace_home_is_the_clients_dashboard(client_for, bob, workspace):
    delivery = _sent(workspace, 3)
    html = client_for(bob).get(f"/w/{workspace.slug}/").content.decode()
    assert 'id="home-figures"' in html and 'id="home-chart"' in html and 'id="home-recent"' in html
    assert f"/w/{workspace.slug}/reports/deliveries/{delivery.pk}/" in html
    assert 'id="home-settings-link"' not in html  # settings are the admins' page
