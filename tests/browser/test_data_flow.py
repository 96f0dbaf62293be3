"""The data screens in a real browser: the model page with its diagram, a CSV upload
through the form, the progress bar polling until the report shows its counts, then the
records browser and a record page. Drives Debian's chromium through Playwright."""

import re
import tempfile
import threading
import time
from pathlib import Path

import pytest
from django.db import connection, transaction

from tests.factories import (
    PASSWORD,
    MembershipFactory,
    UserFactory,
    WorkspaceFactory,
    make_travel_model,
)

SCREENSHOT_DIR = Path(tempfile.gettempdir()) / "orchestrate-screenshots"

UPLOAD = (
    "customer_id;email;first_name;last_name;country;birth_date\n"
    "2;ben.meyer@example.test;Ben;Meyer;DE;01/07/1990\n"  # known key: updated
    "4;dora@example.test;Dora;Klein;AT;24/12/1992\n"
    "5;not-an-email;Emil;Novak;CZ;02/02/1980\n"  # rejected: not an email address
    "6;frank@example.test;Frank;Olsen;DK;\n"
)


@pytest.fixture
def marketer_with_travel_data(transactional_db):
    """The travel model with a few rows, made before the browser starts (once Playwright's
    event loop runs, ORM calls from the test would get a connection nobody closes)."""
    workspace = WorkspaceFactory(name="Northwind", slug="northwind")
    user = UserFactory(email="owner@example.test")
    MembershipFactory(organization=workspace.organization, user=user, role="owner")
    with transaction.atomic():  # the loader works inside its caller's transaction
        make_travel_model(workspace)
    return user


class _ThreadWorker:
    """Stands in for the Celery worker: runs a queued load in a thread a moment after the
    upload's transaction commits, so the page first shows the progress bar polling."""

    def __init__(self):
        self.threads: list[threading.Thread] = []

    def delay(self, job_id: int) -> None:
        def run():
            from apps.datamodel.ingestion.services import ingestion_job_run

            try:
                time.sleep(1.5)
                ingestion_job_run(job_id=job_id)
            finally:
                connection.close()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self.threads.append(thread)


@pytest.fixture
def thread_worker(monkeypatch):
    worker = _ThreadWorker()
    monkeypatch.setattr("apps.datamodel.tasks.run_ingestion_job", worker)
    yield worker
    for thread in worker.threads:
        thread.join(timeout=60)


def shot(page, name: str) -> None:
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"), full_page=True)


@pytest.mark.browser
def test_marketer_uploads_a_csv_and_reads_the_report(live_server, marketer_with_travel_data, thread_worker,
                                                      browser_page):
    page = browser_page
    from playwright.sync_api import expect

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email address").fill(marketer_with_travel_data.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # an agency owner lands on the agency home, and opens the client from its list
    expect(page).to_have_url(re.compile(rf"{live_server.url}/agency/[^/]+/$"))
    page.locator("#agency-workspaces").get_by_role("link", name="Northwind").click()
    expect(page).to_have_url(f"{live_server.url}/w/northwind/")

    # the model page: the diagram shows the entities and the links with both names
    page.get_by_role("navigation", name="Workspace").get_by_role("link", name="Data").click()
    expect(page).to_have_url(f"{live_server.url}/w/northwind/data/")
    diagram = page.locator("#erd-panel svg")
    for key in ("customer", "product", "booking"):
        expect(diagram.locator(f'[data-entity="{key}"]')).to_have_count(1)
    expect(diagram.locator('[data-link="booking.customer"]')).to_have_count(1)
    expect(diagram.locator("text.erd-reverse", has_text="bookings")).to_have_count(2)
    shot(page, "data-01-model")

    # the upload form: semicolons, a day-first date format, skip bad rows
    page.locator("#entity-customer").get_by_role("button", name="Upload").click()
    expect(page).to_have_url(f"{live_server.url}/w/northwind/data/entities/customer/upload/")
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "customers.csv", "mimeType": "text/csv", "buffer": UPLOAD.encode()}])
    page.get_by_label("Delimiter").select_option(";")
    page.get_by_label("Skip bad rows (up to a limit)").check()
    page.locator("details.mapping > summary").click()
    page.get_by_label("Date format of birth_date").select_option("DD/MM/YYYY")
    shot(page, "data-02-upload-form")
    page.get_by_role("button", name="Upload and load").click()

    # then: the load's page polls its progress, then shows the report
    expect(page).to_have_url(re.compile(rf"{live_server.url}/w/northwind/data/loads/\d+/$"))
    expect(page.locator("#job-status .progress")).to_be_visible()
    report = page.locator("#job-report")
    expect(report).to_be_visible(timeout=20_000)
    expect(report.locator("#job-outcome")).to_have_text("Done")
    expect(report.locator('[data-count="rows_seen"]')).to_have_text("4")
    expect(report.locator('[data-count="inserted"]')).to_have_text("2")
    expect(report.locator('[data-count="updated"]')).to_have_text("1")
    expect(report.locator('[data-count="rejected"]')).to_have_text("1")
    error_rows = report.locator("#job-errors tbody tr")
    expect(error_rows).to_have_count(1)
    expect(error_rows.locator("td").nth(0)).to_have_text("4")
    expect(error_rows.locator("td").nth(1)).to_have_text("email")
    expect(report.get_by_role("button", name="Download the rejected rows (CSV)")).to_be_visible()
    assert page.locator("#job-status[hx-trigger]").count() == 0  # polling stopped
    shot(page, "data-03-report")

    # the records: filtered on the country, newest key first
    report.get_by_role("button", name="Browse customer records").click()
    expect(page.locator("#records-table tbody tr")).to_have_count(5)
    page.locator("#records-filter select[name=f]").last.select_option("country")
    page.locator("#records-filter input[name=v]").last.fill("AT")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("#records-table tbody tr")).to_have_count(1)
    expect(page.locator("#records-table tbody tr")).to_contain_text("Dora")
    shot(page, "data-04-records")

    # a record page shows the records that point to it
    page.goto(f"{live_server.url}/w/northwind/data/entities/customer/records/1/")
    expect(page.locator("#children-bookings")).to_contain_text("1000")
    expect(page.locator("#children-bookings")).to_contain_text("1001")
    shot(page, "data-05-record")
    page.goto(f"{live_server.url}/w/northwind/data/entities/booking/records/1000/")
    expect(page.locator("#record-parents")).to_contain_text("Anna")
    shot(page, "data-06-booking")
    # the entity's settings: the new label shows in the page's title at once
    page.goto(f"{live_server.url}/w/northwind/data/entities/product/")
    settings = page.locator("#entity-settings-form")
    settings.get_by_label("Label").fill("Trip")
    settings.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings of product saved.")).to_be_visible()
    expect(page.locator("#entity-title")).to_contain_text("Trip")
    page.goto(f"{live_server.url}/w/northwind/data/entities/customer/")
    shot(page, "data-07-entity")
