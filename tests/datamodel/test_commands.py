"""The data store's manage.py commands, as a user runs them."""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.datamodel.models import Entity
from apps.datamodel.selectors import record_get
from tests.factories import TRAVEL_MODEL, make_travel_model


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
