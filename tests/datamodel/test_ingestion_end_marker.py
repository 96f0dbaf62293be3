"""A line holding only \\. is PostgreSQL's end-of-data marker in COPY: a file holding one
must still load every row, on every way in (direct, staged, robust, JSON)."""

from __future__ import annotations

import io

import pytest
from django.db import connection

from apps.datamodel import services
from apps.datamodel.ingestion import Options, ingest_csv, ingest_records
from apps.datamodel.selectors import record_get, records_count
from tests.factories import make_travel_model

HEADER = "customer_id,email,first_name,country\n"


@pytest.fixture
def customer(workspace):
    return make_travel_model(workspace, rows=False)["customer"]


def load(entity, text: str, **options):
    return ingest_csv(entity=entity, stream=io.BytesIO(text.encode()), options=Options(**options))


def names(entity) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT customer_id, first_name FROM "ws_{entity.workspace_id}".customer ORDER BY 1')
        return dict(cursor.fetchall())


FILES = {
    # in the first column, and in the last
    "first column": ("first_name,customer_id\nAnna,1\n\\.,2\nCy,3\n", {1: "Anna", 2: "\\.", 3: "Cy"}),
    "last column": (HEADER + "1,a@x.test,Anna,NL\n2,b@x.test,\\.,DE\n", {1: "Anna", 2: "\\."}),
    # inside a quoted value that spans lines
    "multiline": (HEADER + '1,a@x.test,"first\n\\.\nlast",NL\n2,b@x.test,Ben,DE\n',
                  {1: "first\n\\.\nlast", 2: "Ben"}),
    # a quoted value that ends on the marker line
    "quoted end": (HEADER + '1,a@x.test,"x\n\\.",NL\n2,b@x.test,Ben,DE\n', {1: "x\n\\.", 2: "Ben"}),
    # a bare marker line between rows (a blank-ish row of one field), CRLF line ends
    "bare line": (HEADER.replace("\n", "\r\n") + "1,a@x.test,Anna,NL\r\n\\.\r\n2,b@x.test,Ben,DE\r\n",
                  None),
    # in the first column, as the last line without a line end
    "last line": ("first_name,customer_id\nAnna,1\nBen,2\n\\.", None),
}


@pytest.mark.parametrize("case", list(FILES))
@pytest.mark.parametrize("fresh", [True, False], ids=["empty table", "table with rows"])
def test_a_line_holding_only_the_end_marker_loses_no_row(customer, case, fresh):
    text, expected = FILES[case]
    if not fresh:
        load(customer, HEADER + "99,z@x.test,Zed,NL\n")
    report = load(customer, text, mode="skip", max_errors=10)
    if case == "bare line":
        # the marker line is a row of one field: it is reported, the rows after it load
        assert (report.rows_seen, report.inserted, report.rejected) == (3, 2, 1), report.as_dict()
        assert report.errors[0]["line"] == 3
        assert names(customer) == {1: "Anna", 2: "Ben", **({} if fresh else {99: "Zed"})}
    elif case == "last line":
        # a one-column-first file: "\." is a row of one field where two are expected
        assert (report.rows_seen, report.inserted, report.rejected) == (3, 2, 1), report.as_dict()
        assert names(customer) == {1: "Anna", 2: "Ben", **({} if fresh else {99: "Zed"})}
    else:
        assert report.status == "done", report.as_dict()
        assert report.rows_seen == report.inserted == len(expected)
        assert names(customer) == {**expected, **({} if fresh else {99: "Zed"})}


def test_a_one_column_file_whose_value_is_the_marker_loads_it(workspace):
    entity = services.entity_create(workspace=workspace, actor=None, key="code",
                                    primary_key={"key": "code", "type": "text"}, attributes=[])
    report = load(entity, "code\nA\n\\.\nB\n")
    assert (report.status, report.rows_seen, report.inserted) == ("done", 3, 3), report.as_dict()
    assert records_count(entity=entity) == 3
    assert record_get(entity=entity, key="\\.")["code"] == "\\."


def test_json_records_holding_the_marker_load(customer):
    report = ingest_records(entity=customer, records=[
        {"customer_id": 1, "first_name": "\\."}, {"customer_id": 2, "first_name": "a\n\\.\nb"},
        {"customer_id": 3, "first_name": "Cy"}], options=Options())
    assert (report.status, report.inserted) == ("done", 3)
    assert names(customer) == {1: "\\.", 2: "a\n\\.\nb", 3: "Cy"}


@pytest.mark.parametrize("chunk", [1, 2, 3, 5])
def test_a_marker_line_split_across_read_chunks_is_found(customer, monkeypatch, chunk):
    from apps.datamodel.ingestion import load as loader

    monkeypatch.setattr(loader, "CHUNK_BYTES", chunk)
    report = load(customer, "first_name,customer_id\nAnna,1\n\\.\nCy,3\n", mode="skip", max_errors=10)
    assert (report.path, report.rows_seen, report.inserted, report.rejected) == ("robust", 3, 2, 1)
    assert names(customer) == {1: "Anna", 3: "Cy"}
