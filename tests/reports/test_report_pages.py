"""The report pages of a campaign and of a delivery: figures, chart with its table, CSV."""

import csv
import io

import pdfplumber

from apps.campaigns.models import Run
from apps.channels.models import Delivery, Message
from apps.reports import views
from tests.channels.delivery_rows import make_delivery


def _csv(response):
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_the_campaign_report_shows_figures_a_chart_and_tables(client_for, alice, workspace, sent_run):
    client = client_for(alice)
    url = f"/w/{workspace.slug}/reports/campaigns/{sent_run.campaign_id}/"
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="report-figures"' in html and 'id="report-chart"' in html and "<svg" in html
    assert 'id="report-series"' in html and 'id="report-deliveries"' in html and "example.test" in html
    # one run only
    assert client.get(url, {"run": sent_run.pk}).status_code == 200
    figures = _csv(client.get(url + "figures.csv", {"run": sent_run.pk}))
    assert figures[0] == ["metric", "count", "rate"] and ["Sent", "3", ""] in figures
    series = _csv(client.get(url + "series.csv"))
    assert series[0] == ["at", "sent", "open", "click", "bounced"] and sum(int(r[1]) for r in series[1:]) == 3
    deliveries = _csv(client.get(url + "deliveries.csv"))
    assert len(deliveries) == 2 and deliveries[1][5:8] == ["3", "0", "3"]


def test_the_delivery_report_and_its_exports(client_for, bob, workspace, sent_run):
    delivery = Delivery.objects.get(run=sent_run)
    client = client_for(bob)  # a viewer reads reports
    assert client.get(f"/w/{workspace.slug}/reports/deliveries/{delivery.pk}/").status_code == 200
    domains = _csv(client.get(f"/w/{workspace.slug}/reports/deliveries/{delivery.pk}/domains.csv"))
    assert domains[1][:2] == ["example.test", "3"]
    assert client.get(f"/w/{workspace.slug}/reports/deliveries/{delivery.pk}/nope.csv").status_code == 404


def test_a_cell_that_a_spreadsheet_would_run_is_neutralized(workspace, client_for, alice):
    delivery = make_delivery(workspace, statuses={"failed:=cmd|' /C calc'!A0": 1, "queued": 1})
    Message.objects.filter(delivery=delivery, status="queued").update(status="failed", reason="=HYPERLINK(1)")
    rows = _csv(client_for(alice).get(f"/w/{workspace.slug}/reports/deliveries/{delivery.pk}/failed.csv"))
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_outsiders_and_other_campaigns_runs_get_404(client_for, charlie, alice, workspace, other_workspace, sent_run):
    delivery = Delivery.objects.get(run=sent_run)
    for url in (f"/w/{workspace.slug}/reports/campaigns/{sent_run.campaign_id}/",
                f"/w/{workspace.slug}/reports/deliveries/{delivery.pk}/",
                f"/w/{workspace.slug}/reports/deliveries/{delivery.pk}/figures.csv"):
        assert client_for(charlie).get(url).status_code == 404
    # a look-alike workspace's id in the owner's URL: 404, nothing shown
    theirs = make_delivery(other_workspace, statuses={"sent": 1})
    assert client_for(alice).get(f"/w/{workspace.slug}/reports/deliveries/{theirs.pk}/").status_code == 404
    other_run = Run.objects.create(workspace=workspace, campaign=sent_run.campaign.__class__.objects.create(
        workspace=workspace, name="Other"), version=sent_run.version, mode="live")
    response = client_for(alice).get(f"/w/{workspace.slug}/reports/campaigns/{sent_run.campaign_id}/",
                                     {"run": other_run.pk})
    assert response.status_code == 404
    assert client_for(alice).get(f"/w/{workspace.slug}/reports/campaigns/{sent_run.campaign_id}/",
                                 {"run": "x"}).status_code == 404


def test_every_table_of_the_page_exports():
    assert set(views.TABLES) == {"figures", "series", "links", "domains", "excluded", "failed", "deliveries"}


def test_the_campaign_report_downloads_as_a_pdf_for_the_client(client_for, alice, workspace, sent_run):
    response = client_for(alice).get(f"/w/{workspace.slug}/reports/campaigns/{sent_run.campaign_id}/report.pdf",
                                     {"run": sent_run.pk})
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="campaign-{sent_run.campaign_id}-run-{sent_run.pk}-report.pdf"')
    with pdfplumber.open(io.BytesIO(response.content)) as pdf:
        text = "\n".join(page.extract_text() for page in pdf.pages)
    assert sent_run.campaign.name in text and workspace.name in text and workspace.organization.name in text
    assert "Mailbox providers" in text and "example.test" in text


def test_a_live_runs_page_shows_each_channel_activitys_results(client_for, alice, workspace, sent_run):
    html = client_for(alice).get(f"/w/{workspace.slug}/campaigns/runs/{sent_run.pk}/").content.decode()
    delivery = Delivery.objects.get(run=sent_run)
    assert 'data-result="mail"' in html and "3 sent" in html
    assert f"/w/{workspace.slug}/reports/deliveries/{delivery.pk}/" in html
    # on the canvas too, under the activity's name
    canvas = html.split('data-node="mail"')[1].split("</g>")[0]
    assert "3 sent" in canvas


def test_each_delivery_is_shown_with_its_split_branch():
    from apps.reports.context import branch_of

    definition = {"nodes": [{"id": "s", "type": "split", "label": "By tier"}, {"id": "gold", "type": "email"},
                            {"id": "wait", "type": "wait"}, {"id": "rest", "type": "sms"}, {"id": "a", "type": "start"}],
                  "edges": [{"from": "a", "to": "s"}, {"from": "s", "outlet": "gold", "to": "gold"},
                            {"from": "s", "outlet": "others", "to": "wait"}, {"from": "wait", "to": "rest"}]}
    assert branch_of(definition, "gold") == "By tier → gold"
    assert branch_of(definition, "rest") == "By tier → others"
    assert branch_of(definition, "s") == ""
