"""The demo's manage.py commands (load_demo, demo_data), as a user runs them."""

import io
import json

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from guardian.models import UserObjectPermission

from apps.datamodel.models import Entity
from apps.datamodel.selectors import records_count
from apps.tenants.lifecycle import tenant_models
from apps.tenants.models import Membership, Organization, Workspace
from apps.tenants.selectors import member_role
from tests.factories import WorkspaceFactory


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _fingerprint(workspace, table):
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*), md5(string_agg(t::text, \',\' ORDER BY t::text)) '
                       f'FROM (SELECT * FROM "ws_{workspace.pk}"."{table}") t')
        return cursor.fetchone()


def test_demo_data_is_deterministic_and_loads_through_ingestion(db):
    first = WorkspaceFactory(slug="demo-a")
    second = WorkspaceFactory(slug="demo-b")
    report = json.loads(run("demo_data", "--workspace", "demo-a", "--profiles", "300", "--seed", "4"))
    assert report["entities"]["customer"]["inserted"] == 300
    assert report["entities"]["booking"]["inserted"] == 900
    run("demo_data", "--workspace", "demo-b", "--profiles", "300", "--seed", "4")
    for table in ("product", "customer"):
        assert _fingerprint(first, table)[1] == _fingerprint(second, table)[1]
    # bookings: same rows but for the _updated_at column: compare without it
    with connection.cursor() as cursor:
        digests = []
        for ws in (first, second):
            cursor.execute(f'SELECT md5(string_agg(concat_ws(\'|\', booking_id, customer_id, product_id, booked_at, '
                           f'start_date, amount, status), \',\' ORDER BY booking_id)) FROM "ws_{ws.pk}".booking')
            digests.append(cursor.fetchone()[0])
    assert digests[0] == digests[1]
    # a second run over the same workspace changes nothing
    again = json.loads(run("demo_data", "--workspace", "demo-a", "--profiles", "300", "--seed", "4"))
    assert again["entities"]["customer"]["updated"] == 0 and again["entities"]["customer"]["inserted"] == 0
    # the skew: some customers book far more than the average of 3
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT max(n) FROM (SELECT count(*) n FROM "ws_{first.pk}".booking GROUP BY customer_id) x')
        assert cursor.fetchone()[0] >= 10


def test_load_demo_builds_the_demo_agency_idempotently(db):
    first = json.loads(run("load_demo", "--profiles", "50"))
    assert first["users"] == 7
    # the travel workspace gets topics, the consents of 7 customers in 10, a template and a campaign
    # ... and three past campaigns with their receipts, opens and clicks, for the reports
    assert first["messaging:northwind-travel"] == {"consents": 35, "campaigns": 1, "past_campaigns": 3}
    # the demo senders' domains are verified: the platform's server sends the demo campaign
    assert {k: v for k, v in first.items() if k.startswith("sender:")} == {
        "sender:northwind-travel": 1, "sender:contoso-retail": 1, "sender:globex-shop": 1}
    from apps.channels.models import SenderDomain
    assert set(SenderDomain.objects.filter(status="verified").values_list("workspace__slug", "domain")) == {
        ("northwind-travel", "northwind.test"), ("contoso-retail", "contoso.test"), ("globex-shop", "globex.test")}
    assert set(Workspace.objects.values_list("slug", flat=True)) >= {"northwind-travel", "contoso-retail",
                                                                     "globex-shop"}
    second = json.loads(run("load_demo", "--profiles", "50"))
    assert second == {"organizations": 0, "workspaces": 0, "users": 0}
    customer = Entity.objects.get(workspace__slug="northwind-travel", key="customer")
    assert records_count(entity=customer) == 50
    shopper = Entity.objects.get(workspace__slug="contoso-retail", key="shopper")
    assert shopper.is_profile and records_count(entity=shopper) == 50
    # the demo campaign is ready to publish, and its test run excludes who did not subscribe
    from apps.campaigns import executor
    from apps.campaigns import services as campaigns
    from apps.campaigns.models import ActivityRun, Campaign

    northwind = Workspace.objects.get(slug="northwind-travel")
    campaign = Campaign.objects.get(workspace=northwind, name="Spring offers")
    campaigns.campaign_validate(workspace=northwind, campaign=campaign)
    pending = []
    executor.DISPATCH = pending.append
    try:
        run_ = campaigns.test_run_start(workspace=northwind, actor=None, campaign=campaign)
        while pending:
            executor.activity_execute(activity_run_id=pending.pop(0))
    finally:
        executor.DISPATCH = executor._enqueue_celery
    report = ActivityRun.objects.get(run=run_, node_id="mail").report
    assert report["recipients"] > 0 and report["excluded"]["no_consent"] > 0
    assert report["samples"][0]["subject"].endswith(", spring offers picked for you")
    # the past campaigns' reports have figures, over more than one day
    from apps.reports import selectors as reports

    past = Campaign.objects.get(workspace=northwind, name="Autumn newsletter")
    deliveries = reports.deliveries_of(workspace=northwind, campaign=past)
    figures = reports.report_of(deliveries)
    assert figures["sent"] > 0 and figures["excluded_by_reason"]["no_consent"] > 0
    assert figures["opened_total"] >= figures["opened_unique"] > 0 and figures["delivered"] > 0
    assert reports.series(deliveries)["points"] and reports.domains(deliveries)
    assert reports.workspaces_summary([northwind.pk])[northwind.pk]["sent"] == figures["sent"] + sum(
        reports.report_of(reports.deliveries_of(workspace=northwind, campaign=c))["sent"]
        for c in Campaign.objects.filter(workspace=northwind, name="Last-minute weekend"))


def _state() -> dict:
    """Every row the demo can reach, field by field (timestamps included: a second load
    that rewrote a row would show), and each workspace table's rows."""
    rows = {}
    plain = [get_user_model(), Organization, Membership, UserObjectPermission]
    for model in plain + [model for model, _ in tenant_models()]:
        rows[model._meta.label] = sorted(map(repr, model._base_manager.values_list()))
    for entity in Entity.objects.select_related("workspace"):
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT count(*), md5(string_agg(t::text, \',\' ORDER BY t::text)) '
                           f'FROM "ws_{entity.workspace_id}"."{entity.key}" t')
            rows[f"{entity.workspace.slug}.{entity.key}"] = cursor.fetchone()
    return rows


def test_load_demo_twice_leaves_the_same_state(db, settings):
    # given a loaded demo
    first = json.loads(run("load_demo", "--profiles", "30"))
    assert (first["organizations"], first["workspaces"], first["users"]) == (2, 3, 7)
    before = _state()
    # when it is loaded again
    second = json.loads(run("load_demo", "--profiles", "30"))
    # then nothing was created, changed or removed
    assert second == {"organizations": 0, "workspaces": 0, "users": 0}
    assert _state() == before
    # and the logins are the README's, with their workspace and agency roles
    roles = {}
    for user in get_user_model().objects.all():
        assert user.check_password(settings.DEMO_PASSWORD), user.email
        roles[user.email] = {ws.slug: member_role(workspace=ws, user=user) for ws in Workspace.objects.all()
                             if member_role(workspace=ws, user=user)}
    assert roles == {
        "owner@acme.test": {},  # the agency's owners reach its workspaces through the agency
        "admin@acme.test": {"northwind-travel": "admin"},
        "approver@acme.test": {"northwind-travel": "approver"},
        "marketer@acme.test": {"northwind-travel": "marketer", "contoso-retail": "marketer"},
        "viewer@acme.test": {"northwind-travel": "viewer"},
        "outsider@globex.test": {},
        "root@orchestrate.test": {},
    }
    assert sorted(Membership.objects.values_list("organization__slug", "user__email", "role")) == [
        ("acme", "admin@acme.test", "member"), ("acme", "approver@acme.test", "member"),
        ("acme", "marketer@acme.test", "member"), ("acme", "owner@acme.test", "owner"),
        ("acme", "viewer@acme.test", "member"), ("globex", "outsider@globex.test", "owner")]
    assert get_user_model().objects.get(email="root@orchestrate.test").is_superuser
