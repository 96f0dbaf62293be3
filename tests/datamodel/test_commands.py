"""The data store's manage.py commands, as a user runs them."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from apps.datamodel.models import Entity
from apps.datamodel.selectors import record_get, records_count
from apps.tenants.models import Workspace
from tests.factories import TRAVEL_MODEL, WorkspaceFactory, make_travel_model


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_datamodel_import_then_export_round_trips(workspace, settings):
    doc = json.loads((Path(settings.BASE_DIR) / TRAVEL_MODEL).read_text())
    path = Path(settings.MEDIA_ROOT).parent / f"model-{workspace.pk}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    try:
        assert json.loads(run("datamodel_import", "--workspace", workspace.slug, str(path))) == {
            "entities": 3, "attributes": 28, "relationships": 2}
        # importing again changes nothing
        assert json.loads(run("datamodel_import", "--workspace", workspace.slug, str(path))) == {
            "entities": 0, "attributes": 0, "relationships": 0}
    finally:
        path.unlink()
    exported = json.loads(run("datamodel_export", "--workspace", workspace.slug))
    assert [e["key"] for e in exported["entities"]] == ["customer", "product", "booking"]
    assert [(r["source"], r["key"], r["target"], r["reverse_key"]) for r in exported["relationships"]] == [
        ("booking", "customer", "customer", "bookings"), ("booking", "product", "product", "bookings")]
    assert exported["addresses"]["email"] == "email"
    customer = next(e for e in exported["entities"] if e["key"] == "customer")
    assert customer["profile"] is True
    assert {"key": "loyalty_tier", "label": "Loyalty tier", "type": "enum",
            "enum_values": ["none", "silver", "gold", "platinum"]} in customer["attributes"]


def test_datamodel_import_reports_the_bad_place(workspace, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"entities": [{"key": "select", "primary_key": {"key": "id", "type": "integer"}}]}))
    with pytest.raises(CommandError) as exc:
        run("datamodel_import", "--workspace", workspace.slug, str(path))
    assert "entities[0] (select)" in str(exc.value) and "reserved word" in str(exc.value)


def test_ingest_prints_a_json_report(workspace, tmp_path):
    make_travel_model(workspace, rows=False)
    path = tmp_path / "customers.csv"
    path.write_text("customer_id;first_name;birth_date\n1;Zoë;14/03/1985\n2;Ben;31/02/1990\n", encoding="latin-1")
    out = run("ingest", "--workspace", workspace.slug, "--entity", "customer", str(path), "--mode", "skip",
              "--delimiter", ";", "--encoding", "latin-1", "--date-format", "birth_date=DD/MM/YYYY")
    report = json.loads(out)
    assert (report["status"], report["inserted"], report["rejected"]) == ("done", 1, 1)
    assert report["errors"] == [{"line": 3, "column": "birth_date", "value": "31/02/1990",
                                 "reason": "not a date in the format DD/MM/YYYY"}]
    customer = Entity.objects.get(workspace=workspace, key="customer")
    assert record_get(entity=customer, key=1)["first_name"] == "Zoë"


def test_ingest_maps_headers_and_exits_non_zero_when_rejected(workspace, tmp_path):
    make_travel_model(workspace, rows=False)
    path = tmp_path / "c.csv"
    path.write_text("id,Vorname,junk\n1,Anna,x\n")
    out = run("ingest", "--workspace", workspace.slug, "--entity", "customer", str(path),
              "--map", "id=customer_id", "--map", "Vorname=first_name", "--map", "junk=")
    assert json.loads(out)["inserted"] == 1
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,language\n5,klingon\n")
    with pytest.raises(SystemExit) as exit_info:
        run("ingest", "--workspace", workspace.slug, "--entity", "customer", str(bad))
    assert exit_info.value.code == 1


def test_ingest_names_a_missing_workspace_entity_or_file(workspace, tmp_path):
    make_travel_model(workspace, rows=False)
    with pytest.raises(CommandError, match="No workspace 'nope'"):
        run("ingest", "--workspace", "nope", "--entity", "customer", "x.csv")
    with pytest.raises(CommandError, match="has no entity 'shoe'"):
        run("ingest", "--workspace", workspace.slug, "--entity", "shoe", "x.csv")
    with pytest.raises(CommandError, match="No such file"):
        run("ingest", "--workspace", workspace.slug, "--entity", "customer", str(tmp_path / "missing.csv"))


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
    assert first["messaging:northwind-travel"] == {"consents": 35, "campaigns": 1}
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
