"""Direct mail: a live run's letters rendered into one PDF per batch, the address where
the envelope's window is, the print house's manifest, and the download page."""

import csv
import io

import pdfplumber
import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.urls import reverse

from apps.campaigns.models import ActivityRun
from apps.channels.models import ChannelConfig, Delivery, Message
from tests.channels.test_sending import live_run

MM = 72 / 25.4  # PDF points per millimetre
CONTENT = {
    "html": "<p>Dear {{ profile.first_name }},</p><p>Your {{ profile.loyalty_tier }} offers are inside.</p>"
            "{% if profile.first_name == 'Dora' %}<p style='break-before: page'>Still Dora's letter</p>{% endif %}",
    "return_address": "Northwind Travel, Keizersgracht 1, 1015 CJ Amsterdam",
    "page_size": "A4",
    "manifest_columns": ["loyalty_tier", "profile.email", "nonsense"],
}
# customer id: street, postal code, city (customer 5 has no postal code: excluded)
ADDRESSES = {
    1: ("Prinsengracht 263", "1016 GV", "Amsterdam"),
    2: ("Unter den Linden 5", "10117", "Berlin"),
    3: ("Rue de Rivoli 99", "75001", "Paris"),
    4: ("Herengracht 500", "1017 CB", "Amsterdam"),
    5: ("Nowhere 1", "", "Lost"),
}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"  # files of parallel test runs never meet


@pytest.fixture
def letters(workspace, travel):
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO ws_{workspace.pk}.customer (customer_id, first_name, last_name, country, "
                       "language, loyalty_tier) VALUES (4, 'Dora', 'Visser', 'NL', 'nl', 'platinum'), "
                       "(5, 'Emil', 'Berg', 'NL', 'nl', 'none')")
        for key, (street, postal, city) in ADDRESSES.items():
            cursor.execute(f"UPDATE ws_{workspace.pk}.customer SET street = %s, postal_code = %s, city = %s "
                           "WHERE customer_id = %s", [street, postal, city, key])
    return ChannelConfig.objects.create(workspace=workspace, channel="direct_mail", chunk_size=2)


def send(workspace, queue, sends, content=CONTENT):
    run = live_run(workspace, channel="direct_mail", settings={"content": content})
    queue()
    mail = ActivityRun.objects.get(run=run, node_id="mail")
    assert mail.status == "done", mail.error
    sends()
    return Delivery.objects.get(run=run)


def window_text(page, content=CONTENT) -> str:
    """Words inside the envelope's window (DIN 5008: 20 mm from the left, 45 mm from the
    top, 85 x 45 mm); pdfplumber measures `top` from the top of the page, as we do."""
    box = page.within_bbox((20 * MM, 45 * MM, 105 * MM, 90 * MM))
    return " ".join(w["text"] for w in box.extract_words())


def read(path: str) -> bytes:
    with default_storage.open(path, "rb") as handle:
        return handle.read()


def manifest_rows(delivery) -> list[dict[str, str]]:
    entry = next(f for f in delivery.files if f["kind"] == "manifest")
    return list(csv.DictReader(io.StringIO(read(entry["path"]).decode("utf-8"))))


def test_letters_go_into_one_pdf_per_batch_with_the_address_in_the_window(workspace, letters, queue, sends):
    # when a live run sends a letter to each customer, two letters a batch
    delivery = send(workspace, queue, sends)

    # then the one without a postal code is excluded, the four others are sent
    assert delivery.counts == {"queued": 4, "excluded": {"no_address": 1}}
    assert delivery.status == "done"
    messages = list(Message.objects.filter(delivery=delivery).order_by("id"))
    assert [m.status for m in messages if m.target_key != "5"] == ["sent"] * 4
    assert Message.objects.get(delivery=delivery, target_key="5").reason == "no_address"

    # one PDF per batch of two letters, named by its first message
    sent = [m for m in messages if m.status == "sent"]
    pdfs = [f for f in delivery.files if f["kind"] == "letters"]
    assert sorted(f["name"] for f in pdfs) == sorted([f"dm-{delivery.pk}-{sent[0].pk}.pdf",
                                                      f"dm-{delivery.pk}-{sent[2].pk}.pdf"])
    assert [f["letters"] for f in sorted(pdfs, key=lambda f: f["name"])] == [2, 2]
    # letters are printed in postal-code order (the stack goes to the post office sorted)
    assert [ADDRESSES[int(m.target_key)][1] for m in sent] == ["10117", "1016 GV", "1017 CB", "75001"]
    # Dora's letter is long: two pages; the others one each
    assert [m.provider_id.split("#")[1] for m in sent] == ["p1", "p2", "p1-2", "p3"]

    # each letter's first page shows its recipient in the window, with the return address
    for m in sent:
        name, pages = m.provider_id.split("#p")
        first, _, last = pages.partition("-")
        with pdfplumber.open(io.BytesIO(read(f"directmail/{workspace.pk}/{delivery.pk}/{name}"))) as pdf:
            page = pdf.pages[int(first) - 1]
            street, postal, city = ADDRESSES[int(m.target_key)]
            text = window_text(page)
            assert text.startswith("Northwind Travel, Keizersgracht 1, 1015 CJ Amsterdam"), text
            assert f"{street} {postal} {city} " in text + " ", text
            if last:
                assert "Still Dora's letter" in pdf.pages[int(last) - 1].extract_text()
                assert window_text(pdf.pages[int(last) - 1]) == ""  # no address on a following page
            # the letter text is below the window, not under it
            assert "Dear" not in text


def test_the_manifest_lists_every_letter_in_postal_code_order(workspace, letters, queue, sends):
    delivery = send(workspace, queue, sends)
    rows = manifest_rows(delivery)
    manifest = next(f for f in delivery.files if f["kind"] == "manifest")
    assert manifest["name"] == f"manifest-{delivery.pk}.csv" and manifest["letters"] == 4

    # one row per letter sent, sorted by postal code
    sent = {str(m.pk): m for m in Message.objects.filter(delivery=delivery, status="sent")}
    assert sorted(r["message_id"] for r in rows) == sorted(sent)
    assert [r["postal_code"] for r in rows] == ["10117", "1016 GV", "1017 CB", "75001"]
    assert list(rows[0]) == ["message_id", "name", "address_line1", "address_line2", "postal_code", "city",
                             "region", "country", "file", "first_page", "last_page", "loyalty_tier",
                             "profile.email"]  # the unknown column is left out
    assert rows[0] | {"message_id": ""} == {
        "message_id": "", "name": "Ben Meyer", "address_line1": "Unter den Linden 5", "address_line2": "",
        "postal_code": "10117", "city": "Berlin", "region": "", "country": "DE",
        "file": sent[rows[0]["message_id"]].provider_id.split("#")[0], "first_page": "1", "last_page": "1",
        "loyalty_tier": "silver", "profile.email": "ben@example.test"}

    # the page sets add up: per file, the letters' pages follow one another from page 1
    # to the last page of the PDF, each letter's own (its name is in the window)
    by_file: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        assert row["file"] + "#p" + (row["first_page"] if row["first_page"] == row["last_page"] else
                                     f"{row['first_page']}-{row['last_page']}") == sent[row["message_id"]].provider_id
        by_file.setdefault(row["file"], []).append(row)
    assert sorted(by_file) == sorted(f["name"] for f in delivery.files if f["kind"] == "letters")
    for name, file_rows in by_file.items():
        file_rows.sort(key=lambda r: int(r["first_page"]))
        with pdfplumber.open(io.BytesIO(read(f"directmail/{workspace.pk}/{delivery.pk}/{name}"))) as pdf:
            expected = 1
            for row in file_rows:
                assert int(row["first_page"]) == expected
                assert row["name"] in window_text(pdf.pages[expected - 1])
                expected = int(row["last_page"]) + 1
            assert expected - 1 == len(pdf.pages)


def test_a_batch_of_a_killed_worker_is_not_printed(workspace, letters, queue, sends):
    from apps.channels import manifest, sending
    from apps.channels.providers.directmail import DirectMailProvider

    run = live_run(workspace, channel="direct_mail", settings={"content": CONTENT})
    queue()
    delivery = Delivery.objects.get(run=run)
    # given a worker that rendered a batch of the second letter alone, then was killed
    # before marking it sent: its lease ended and the letter is claimable again
    second = Message.objects.filter(delivery=delivery, status="queued").order_by("id")[1].pk
    Message.objects.filter(pk=second).update(status="sending")
    item = sending.Outgoing(id=second, address="", message_id="", fields={"html": "<p>x</p>"}, context={})
    orphan = DirectMailProvider(delivery, None).send_batch([item])[second].split("#")[0]
    assert orphan == f"dm-{delivery.pk}-{second}.pdf"
    assert default_storage.exists(f"directmail/{workspace.pk}/{delivery.pk}/{orphan}")
    Message.objects.filter(pk=second).update(status="queued")
    # when the delivery is sent (the letter goes out in another batch) and finishes
    sends()
    delivery.refresh_from_db()
    # then the killed worker's file is gone from the list and from storage, and every
    # letter is in exactly one listed file
    names = [f["name"] for f in delivery.files if f["kind"] == "letters"]
    assert orphan not in names
    assert not default_storage.exists(f"directmail/{workspace.pk}/{delivery.pk}/{orphan}")
    assert sum(f["letters"] for f in delivery.files if f["kind"] == "letters") == 4
    used = {m.provider_id.split("#")[0] for m in Message.objects.filter(delivery=delivery, status="sent")}
    assert set(names) == used and len(names) == 2
    assert manifest.drop_orphans(delivery) == []


def test_the_download_page_serves_the_files_to_members_only(workspace, letters, queue, sends, client_for, mallory,
                                                             bob, charlie):
    delivery = send(workspace, queue, sends)
    files = delivery.files
    page = reverse("chan-dm-files", kwargs={"workspace_slug": workspace.slug, "pk": delivery.pk})

    # a marketer sees every file with its download link, and gets the bytes
    response = client_for(mallory).get(page)
    assert response.status_code == 200
    body = response.content.decode()
    for entry in files:
        assert entry["name"] in body
    pdf = next(f for f in files if f["kind"] == "letters")
    url = reverse("chan-dm-file", kwargs={"workspace_slug": workspace.slug, "pk": delivery.pk, "name": pdf["name"]})
    assert url in body
    download = client_for(mallory).get(url)
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert f'filename="{pdf["name"]}"' in download["Content-Disposition"]
    assert b"".join(download.streaming_content) == read(pdf["path"])
    manifest = next(f for f in files if f["kind"] == "manifest")
    csv_url = reverse("chan-dm-file", kwargs={"workspace_slug": workspace.slug, "pk": delivery.pk,
                                              "name": manifest["name"]})
    assert client_for(mallory).get(csv_url)["Content-Type"].startswith("text/csv")

    # the delivery's page leads there for marketers, not for viewers
    detail = reverse("chan-delivery", kwargs={"workspace_slug": workspace.slug, "pk": delivery.pk})
    assert f'href="{page}"' in client_for(mallory).get(detail).content.decode()
    assert f'href="{page}"' not in client_for(bob).get(detail).content.decode()

    # a viewer may not (letters hold personal data); an outsider finds nothing
    assert client_for(bob).get(url).status_code == 403
    assert client_for(charlie).get(url).status_code == 404
    assert client_for(charlie).get(page).status_code == 404
    # a name that is not one of the delivery's files is not served, nor a path outside it
    for name in ("other.pdf", "..%2F..%2Fsecret.pdf"):
        assert client_for(mallory).get(page + name).status_code == 404


def test_a_letter_that_cannot_be_laid_out_fails_alone(workspace, letters, queue, sends, monkeypatch):
    from apps.channels.providers.directmail import DirectMailProvider

    render = DirectMailProvider.render
    ben = {}

    def fragile(self, items):
        if any(item.context["profile"].get("first_name") == "Ben" for item in items):
            ben["id"] = next(i.id for i in items if i.context["profile"].get("first_name") == "Ben")
            raise ValueError("layout blew up")
        return render(self, items)

    monkeypatch.setattr(DirectMailProvider, "render", fragile)
    delivery = send(workspace, queue, sends)
    by_status = {m.target_key: (m.status, m.reason) for m in Message.objects.filter(delivery=delivery)}
    assert by_status == {"1": ("sent", ""), "2": ("failed", "rejected"), "3": ("sent", ""), "4": ("sent", ""),
                         "5": ("excluded", "no_address")}
    failed = Message.objects.get(pk=ben["id"])
    assert failed.error == "the letter cannot be laid out: ValueError: layout blew up"
    assert [r["name"] for r in manifest_rows(delivery)] == ["Anna Jansen", "Dora Visser", "Chloe Martin"]


def test_the_manifest_is_one_query_over_the_messages_whatever_their_number(workspace, letters, queue, sends):
    from django.db import connection as conn
    from django.test.utils import CaptureQueriesContext

    from apps.channels import manifest

    delivery = send(workspace, queue, sends)
    with CaptureQueriesContext(conn) as captured:
        entry = manifest.manifest_write(delivery)
    assert entry["letters"] == 4
    over_messages = [q["sql"] for q in captured.captured_queries if "channels_message" in q["sql"]]
    assert len(over_messages) == 1 and "ORDER BY" in over_messages[0]
    assert len(captured.captured_queries) < 15  # metadata and the files' row lock, not a query per letter


def test_manifest_cells_a_spreadsheet_would_run_are_neutralized(workspace, letters, queue, sends):
    # given a customer whose name, address and e-mail start like spreadsheet formulas
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE ws_{workspace.pk}.customer SET first_name = '=HYPERLINK(\"http://x\")', "
                       "last_name = 'Meyer', street = '@SUM(A1)', city = '-2+3', email = '+1@example.test' "
                       "WHERE customer_id = 2")
    content = {**CONTENT, "manifest_columns": ["profile.email", "customer_id", "loyalty_tier"]}

    # when the manifest is written
    delivery = send(workspace, queue, sends, content)
    rows = manifest_rows(delivery)

    # then those cells start with a quote; numbers and our own cells are as they were
    row = next(r for r in rows if r["postal_code"] == "10117")
    assert {k: row[k] for k in ("name", "address_line1", "city", "profile.email", "customer_id", "loyalty_tier",
                                "first_page")} == {
        "name": "'=HYPERLINK(\"http://x\") Meyer", "address_line1": "'@SUM(A1)", "city": "'-2+3",
        "profile.email": "'+1@example.test", "customer_id": "2", "loyalty_tier": "silver", "first_page": "1"}
    assert [r["city"] for r in rows] == ["'-2+3", "Amsterdam", "Amsterdam", "Paris"]
