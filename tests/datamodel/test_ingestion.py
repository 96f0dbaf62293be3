"""The ingestion engine on real PostgreSQL: every bad input gets a precise report line,
reject mode writes nothing, skip mode skips up to its limit, and good files merge right."""

import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from apps.datamodel import services
from apps.datamodel.ingestion import HeaderError, Options, ingest_csv
from apps.datamodel.ingestion.services import ingestion_job_create, ingestion_job_run
from apps.datamodel.selectors import record_get, records_count
from tests.factories import make_travel_model

CUSTOMER_HEADER = "customer_id,email,first_name,country,language,birth_date,loyalty_tier,created_at\n"


@pytest.fixture
def model(workspace):
    return make_travel_model(workspace, rows=False)


@pytest.fixture
def customer(model):
    return model["customer"]


def load(entity, text, **options):
    data = text.encode() if isinstance(text, str) else text
    return ingest_csv(entity=entity, stream=io.BytesIO(data), options=Options(**options))


def table_rows(entity):
    return records_count(entity=entity)


# --- good files ------------------------------------------------------------------------------

def test_a_fresh_file_loads_with_types_and_empty_cells_as_null(customer):
    report = load(customer, CUSTOMER_HEADER +
                  '1,anna@example.test,Anna,NL,nl,1985-03-14,gold,2024-01-05 10:00:00\n'
                  '2,ben@example.test,"",DE,de,,silver,2024-01-05T10:00:00Z\n')
    assert (report.status, report.path, report.inserted) == ("done", "direct", 2)
    anna = record_get(entity=customer, key=1)
    assert str(anna["birth_date"]) == "1985-03-14"
    # a naive time is in the workspace's zone (Europe/Amsterdam: UTC+1 in January)
    assert anna["created_at"].isoformat() == "2024-01-05T09:00:00+00:00"
    ben = record_get(entity=customer, key=2)
    assert ben["first_name"] is None and ben["birth_date"] is None


def test_a_second_file_updates_changed_rows_inserts_new_ones_and_leaves_the_rest(customer):
    load(customer, CUSTOMER_HEADER + "1,a@x.test,Anna,NL,nl,,gold,\n2,b@x.test,Ben,DE,de,,silver,\n")
    report = load(customer, CUSTOMER_HEADER + "1,a@x.test,Anna,NL,nl,,gold,\n2,b@x.test,Benno,DE,de,,gold,\n"
                                              "3,c@x.test,Cleo,FR,fr,,none,\n")
    assert (report.path, report.inserted, report.updated, report.unchanged) == ("staged", 1, 1, 1)
    assert record_get(entity=customer, key=2)["first_name"] == "Benno"


def test_a_file_with_some_columns_updates_only_those(customer):
    load(customer, CUSTOMER_HEADER + "1,a@x.test,Anna,NL,nl,1985-03-14,gold,\n")
    report = load(customer, "customer_id,loyalty_tier\n1,platinum\n")
    assert report.updated == 1
    anna = record_get(entity=customer, key=1)
    assert (anna["loyalty_tier"], anna["first_name"], str(anna["birth_date"])) == ("platinum", "Anna", "1985-03-14")


def test_duplicate_keys_in_one_file_last_row_wins_and_are_counted(customer):
    report = load(customer, "customer_id,first_name\n1,First\n2,Other\n1,Last\n")
    assert (report.status, report.duplicates, report.inserted) == ("done", 1, 2)
    assert record_get(entity=customer, key=1)["first_name"] == "Last"


def test_change_column_deletes_and_upserts_like_a_cdc_feed(customer):
    load(customer, "customer_id,first_name\n1,Anna\n2,Ben\n3,Cleo\n")
    report = load(customer, "customer_id,first_name,_change\n1,,d\n2,Benno,u\n4,Dora,upsert\n3,,DELETE\n")
    assert (report.deleted, report.updated, report.inserted) == (2, 1, 1)
    assert table_rows(customer) == 2


def test_rows_whose_link_has_no_parent_load_and_are_counted_as_orphans(model):
    load(model["customer"], "customer_id\n1\n")
    report = load(model["booking"], "booking_id,customer_id,amount\n10,1,5.00\n11,99,6.00\n12,,7.00\n")
    assert (report.status, report.inserted, report.orphans) == ("done", 3, 1)


def test_latin1_files_load_with_the_encoding_option(customer):
    report = load(customer, "customer_id,first_name\n1,Zoë\n".encode("latin-1"), encoding="latin-1")
    assert report.status == "done"
    assert record_get(entity=customer, key=1)["first_name"] == "Zoë"


def test_a_utf8_bom_is_skipped(customer):
    report = load(customer, "\ufeffcustomer_id,first_name\n1,Ånna\n".encode())
    assert report.status == "done"
    assert record_get(entity=customer, key=1)["first_name"] == "Ånna"


def test_semicolon_and_tab_delimiters(customer):
    assert load(customer, "customer_id;first_name\n1;Anna\n", delimiter=";").inserted == 1
    assert load(customer, "customer_id\tfirst_name\n2\tBen\n", delimiter="\t").inserted == 1


def test_per_column_date_formats(customer):
    report = load(customer, "customer_id,birth_date,created_at\n1,14/03/1985,05/01/2024 10:30\n2,31/02/1990,\n",
                  mode="skip", date_formats={"birth_date": "DD/MM/YYYY", "created_at": "DD/MM/YYYY"})
    assert (report.inserted, report.rejected) == (1, 1)
    assert report.errors == [{"line": 3, "column": "birth_date", "value": "31/02/1990",
                              "reason": "not a date in the format DD/MM/YYYY"}]
    anna = record_get(entity=customer, key=1)
    assert str(anna["birth_date"]) == "1985-03-14"
    assert anna["created_at"].isoformat() == "2024-01-05T09:30:00+00:00"


def test_headers_match_labels_and_explicit_mapping(customer):
    report = load(customer, "Customer ID,First name,Ignored,Land\n1,Anna,x,NL\n",
                  mapping={"Ignored": None, "Land": "country"})
    assert report.status == "done"
    assert record_get(entity=customer, key=1)["country"] == "NL"


# --- bad input --------------------------------------------------------------------------------

def test_a_wrong_type_in_a_cell_rejects_the_file_with_line_column_and_reason(customer):
    report = load(customer, "customer_id,birth_date\n1,1985-03-14\n2,next week\n")
    assert report.status == "rejected"
    assert report.errors == [{"line": 3, "column": "birth_date", "value": "next week",
                              "reason": "not a date (YYYY-MM-DD, or choose the column's date format)"}]
    assert table_rows(customer) == 0


def test_skip_mode_skips_bad_rows_up_to_the_limit(customer):
    text = "customer_id,email,language\n1,a@x.test,nl\n2,not-an-email,nl\n3,c@x.test,klingon\n4,d@x.test,en\n"
    report = load(customer, text, mode="skip", max_errors=2)
    assert (report.status, report.inserted, report.rejected) == ("done", 2, 2)
    assert {(e["line"], e["column"]) for e in report.errors} == {(3, "email"), (4, "language")}
    rejected = list(csv.reader(io.StringIO(report.rejected_csv.decode())))
    assert rejected[0] == ["line", "errors", "customer_id", "email", "language"]
    assert [row[0] for row in rejected[1:]] == ["3", "4"]


def test_skip_mode_past_the_limit_rejects_the_whole_file(customer):
    text = "customer_id,language\n1,nl\n2,xx\n3,yy\n"
    report = load(customer, text, mode="skip", max_errors=1)
    assert report.status == "rejected"
    assert "exceed the limit of 1" in report.message
    assert table_rows(customer) == 0


def test_a_missing_primary_key_is_a_row_error(customer):
    report = load(customer, "customer_id,first_name\n,Nobody\n1,Anna\n", mode="skip")
    assert report.errors == [{"line": 2, "column": "customer_id", "value": None,
                              "reason": "the primary key is missing"}]
    assert report.inserted == 1


def test_an_unknown_column_is_a_header_error(customer):
    with pytest.raises(HeaderError) as exc:
        load(customer, "customer_id,shoe_size\n1,44\n")
    assert exc.value.errors[0]["column"] == "shoe_size"
    assert "Unknown column 'shoe_size'" in exc.value.errors[0]["reason"]


def test_a_missing_required_column_is_a_header_error(model):
    with pytest.raises(HeaderError) as exc:
        load(model["product"], "product_id,price\n1,10\n")
    assert exc.value.errors == [{"line": 1, "column": "name", "value": "",
                                 "reason": "The required column 'name' is missing."}]


def test_a_missing_primary_key_column_is_a_header_error(customer):
    with pytest.raises(HeaderError) as exc:
        load(customer, "first_name\nAnna\n")
    assert "The primary key column 'customer_id' is missing." in exc.value.errors[0]["reason"]


def test_ragged_rows_are_reported_with_their_field_counts(customer):
    report = load(customer, "customer_id,first_name\n1,Anna\n2,Ben,extra\n3\n4,Dora\n", mode="skip")
    assert report.path == "robust"
    assert [(e["line"], e["reason"]) for e in report.errors] == [
        (3, "the row has 3 fields; the header has 2"), (4, "the row has 1 fields; the header has 2")]
    assert report.inserted == 2


def test_the_wrong_delimiter_is_named(customer):
    with pytest.raises(HeaderError) as exc:
        load(customer, "customer_id;first_name\n1;Anna\n")
    assert "is that the delimiter?" in exc.value.errors[0]["reason"]


def test_invalid_utf8_is_reported_per_row(customer):
    data = b"customer_id,first_name\n1,Anna\n2,Zo\xeb\n"
    report = load(customer, data, mode="skip")
    assert report.errors[0]["line"] == 3
    assert "not valid utf-8" in report.errors[0]["reason"]
    assert report.inserted == 1


def test_an_empty_file_and_a_header_only_file(customer):
    with pytest.raises(HeaderError) as exc:
        load(customer, b"")
    assert exc.value.errors[0]["reason"] == "The file is empty."
    report = load(customer, "customer_id,first_name\n")
    assert (report.status, report.message) == ("rejected", "The file has a header but no data rows.")


def test_a_10_mb_field_is_refused_with_a_clear_reason(customer):
    huge = "x" * (10 * 1024 * 1024)
    report = load(customer, f"customer_id,first_name\n1,{huge}\n2,Ben\n", mode="skip")
    assert report.errors[0]["line"] == 2
    assert report.errors[0]["reason"] == "longer than 65535 characters"
    assert len(report.errors[0]["value"]) == 200
    assert report.inserted == 1


def test_formula_cells_are_kept_as_data_and_escaped_in_the_rejected_file(customer):
    report = load(customer, 'customer_id,first_name,language\n1,"=HYPERLINK(""x"")",nl\n2,=1+1,zz\n', mode="skip")
    assert record_get(entity=customer, key=1)["first_name"] == '=HYPERLINK("x")'
    rejected = list(csv.reader(io.StringIO(report.rejected_csv.decode())))
    assert rejected[1][3] == "'=1+1"


def test_header_names_and_reasons_are_escaped_in_the_rejected_file_too(customer):
    # given columns named like formulas: one ignored, one mapped to language
    report = load(customer, "customer_id,-lang,@note\n1,zz,x\n2,nl,y\n", mode="skip",
                  mapping={"-lang": "language", "@note": None})
    rejected = list(csv.reader(io.StringIO(report.rejected_csv.decode())))
    assert rejected[0] == ["line", "errors", "customer_id", "'-lang", "'@note"]
    assert rejected[1][:3] == ["2", rejected[1][1], "1"]
    assert rejected[1][1].startswith("'-lang: ")


def test_the_direct_way_falls_back_on_duplicates_and_keeps_the_last_row(customer):
    report = load(customer, "customer_id,first_name\n1,A\n1,B\n")
    assert (report.path, report.duplicates, report.inserted) == ("staged", 1, 1)
    assert record_get(entity=customer, key=1)["first_name"] == "B"


def test_reject_mode_on_an_existing_table_changes_nothing(customer):
    load(customer, "customer_id,first_name\n1,Anna\n")
    before = record_get(entity=customer, key=1)
    report = load(customer, "customer_id,first_name,language\n1,Changed,nl\n2,New,xx\n")
    assert report.status == "rejected"
    assert record_get(entity=customer, key=1) == before
    assert table_rows(customer) == 1


# --- names that reach SQL ----------------------------------------------------------------------

@pytest.mark.parametrize("key", ['x"; drop table y; --', "Robert'); DROP TABLE customer;--", "1abc", "_hidden",
                                 "a" * 64, "spaced name", ""])
def test_attribute_keys_that_are_not_identifiers_are_refused(workspace, customer, key):
    with pytest.raises(ValidationError) as exc:
        services.attribute_add(workspace=workspace, actor=None, entity=customer, spec={"key": key, "type": "text"})
    assert "is not valid" in exc.value.messages[0]


@pytest.mark.parametrize("key", ["select", "order", "user", "table", "from"])
def test_entity_keys_that_are_sql_reserved_words_are_refused(workspace, key):
    with pytest.raises(ValidationError) as exc:
        services.entity_create(workspace=workspace, actor=None, key=key,
                               primary_key={"key": "id", "type": "integer"})
    assert "reserved word" in exc.value.messages[0]


def test_hostile_header_and_values_stay_data(customer):
    report = load(customer, "customer_id,first_name\n1,\"'); DROP TABLE customer; --\"\n")
    assert report.status == "done"
    assert record_get(entity=customer, key=1)["first_name"] == "'); DROP TABLE customer; --"


# --- model changes against stored data ---------------------------------------------------------

def test_a_type_change_is_allowed_only_when_every_value_converts(workspace, customer):
    attr = services.attribute_add(workspace=workspace, actor=None, entity=customer,
                                  spec={"key": "points", "type": "text"})
    load(customer, "customer_id,points\n1,10\n2,20\n")
    services.attribute_update(workspace=workspace, actor=None, attribute=attr, type="integer")
    assert record_get(entity=customer, key=2)["points"] == 20
    load(customer, "customer_id,points\n3,\n")
    attr.refresh_from_db()
    services.attribute_update(workspace=workspace, actor=None, attribute=attr, type="text")
    load(customer, "customer_id,points\n3,lots\n")
    attr.refresh_from_db()
    with pytest.raises(ValidationError) as exc:
        services.attribute_update(workspace=workspace, actor=None, attribute=attr, type="integer")
    assert "1 stored value(s) do not convert (e.g. 'lots')" in exc.value.messages[0]
    attr.refresh_from_db()
    assert attr.type == "text"


def test_a_required_attribute_cannot_be_added_to_a_table_with_rows(workspace, customer):
    load(customer, "customer_id\n1\n")
    with pytest.raises(ValidationError):
        services.attribute_add(workspace=workspace, actor=None, entity=customer,
                               spec={"key": "vip", "type": "boolean", "required": True})
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM information_schema.columns WHERE table_schema = %s "
                       "AND table_name = 'customer' AND column_name = 'vip'", [f"ws_{customer.workspace_id}"])
        assert cursor.fetchone()[0] == 0


def test_narrowing_enum_values_checks_stored_rows(workspace, customer):
    load(customer, "customer_id,loyalty_tier\n1,gold\n")
    tier = customer.attributes.get(key="loyalty_tier")
    with pytest.raises(ValidationError) as exc:
        services.attribute_update(workspace=workspace, actor=None, attribute=tier, enum_values=["silver"])
    assert "do not fit" in exc.value.messages[0]


def test_dropping_an_attribute_needs_its_key_as_confirmation(workspace, customer):
    city = customer.attributes.get(key="city")
    with pytest.raises(ValidationError):
        services.attribute_delete(workspace=workspace, actor=None, attribute=city, confirm="yes")
    services.attribute_delete(workspace=workspace, actor=None, attribute=city, confirm="city")
    assert not customer.attributes.filter(key="city").exists()


# --- jobs -----------------------------------------------------------------------------------------

def test_a_job_runs_once_and_keeps_its_report_and_rejected_rows(workspace, customer):
    job = ingestion_job_create(workspace=workspace, actor=None, entity=customer,
                               upload=io.BytesIO(b"customer_id,language\n1,nl\n2,xx\n"), name="c.csv",
                               mode="skip", enqueue=False)
    job = ingestion_job_run(job_id=job.pk)
    assert (job.status, job.inserted, job.rejected) == ("done", 1, 1)
    assert job.rejected_file.read().decode().splitlines()[1].startswith('3,"language: not one of')
    assert ingestion_job_run(job_id=job.pk) is None  # a duplicated task does nothing


def test_a_header_problem_ends_the_job_as_rejected_with_the_reason(workspace, customer):
    job = ingestion_job_create(workspace=workspace, actor=None, entity=customer,
                               upload=io.BytesIO(b"nope\n1\n"), name="c.csv", enqueue=False)
    job = ingestion_job_run(job_id=job.pk)
    assert job.status == "rejected"
    assert "Unknown column 'nope'" in job.message


@pytest.mark.worker
def test_an_uploaded_file_is_loaded_by_a_real_worker(workspace, start_worker, django_capture_on_commit_callbacks):
    customer = make_travel_model(workspace, rows=False)["customer"]
    start_worker()
    with django_capture_on_commit_callbacks(execute=True):
        job = ingestion_job_create(workspace=workspace, actor=None, entity=customer,
                                   upload=io.BytesIO(b"customer_id,first_name\n1,Anna\n2,Ben\n"), name="c.csv")
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.finished:
            break
        time.sleep(0.2)
    assert (job.status, job.inserted) == ("done", 2)
    assert table_rows(customer) == 2


def test_infinite_dates_are_refused(customer):
    report = load(customer, "customer_id,birth_date\n1,infinity\n2,1980-01-01\n", mode="skip")
    assert report.errors == [{"line": 2, "column": "birth_date", "value": "infinity", "reason": "not a finite date"}]


@pytest.mark.parametrize(("value", "kept"), [
    ("+31612345678", True), ("+1 (555) 123-4567", True), ("-12.5", True), ("+44 20 7946 0958", True),
    ("=1+1", False), ("@SUM(A1)", False), ("+cmd|' /C calc'!A0", False), ("-HYPERLINK(1)", False),
    ("+", False), ("-1+cmd|x", False), ("\tx", False),
])
def test_the_formula_guard_keeps_numbers_and_phone_numbers(value, kept):
    from apps.datamodel.ingestion import formula_safe

    assert formula_safe(value) == (value if kept else "'" + value)


def test_the_fixed_rejected_rows_file_uploads_again_as_it_is(customer):
    # given an upload with a bad language: its rejected-rows file keeps the phone numbers intact
    report = load(customer, "customer_id,phone,language\n1,+31612345678,nl\n2,+33612345678,zz\n", mode="skip")
    assert (report.status, report.inserted, report.rejected) == ("done", 1, 1)
    rejected = list(csv.reader(io.StringIO(report.rejected_csv.decode())))
    assert rejected[0] == ["line", "errors", "customer_id", "phone", "language"]
    assert rejected[1][2:] == ["2", "+33612345678", "zz"]
    # when the user fixes the language and uploads that file, its line and errors columns included
    rejected[1][4] = "fr"
    out = io.StringIO()
    csv.writer(out).writerows(rejected)
    again = load(customer, out.getvalue())
    # then it is taken as it is: the export's own columns ignored, the phone number unchanged
    assert (again.status, again.inserted, again.rejected) == ("done", 1, 0), again.as_dict()
    row = record_get(entity=customer, key=2)
    assert (row["phone"], row["language"]) == ("+33612345678", "fr")


def test_only_our_exports_columns_are_ignored(customer):
    # an "errors" column that is not in second place after line/record is still an unknown column
    with pytest.raises(HeaderError) as caught:
        load(customer, "customer_id,errors\n1,x\n")
    assert "Unknown column 'errors'" in str(caught.value)
