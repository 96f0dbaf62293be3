"""A campaign's report emailed every week with its PDF: subscribed on the report page,
sent by the hourly beat job once per week at its hour of the workspace's zone."""

import datetime as dt
import zoneinfo

from django.core import mail

from apps.reports import services
from apps.reports.models import ReportSubscription

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")  # the workspace fixture's zone


def test_a_marketer_subscribes_and_the_report_is_mailed_once_a_week(client_for, mallory, bob, workspace, sent_run):
    url = f"/w/{workspace.slug}/reports/campaigns/{sent_run.campaign_id}/weekly/"
    refused = client_for(mallory).post(url, {"recipients": "client@example.test, not-an-address", "weekday": "0",
                                             "hour": "8"})
    assert refused.status_code == 302 and not ReportSubscription.objects.exists()
    assert client_for(bob).post(url, {"recipients": "x@example.test", "weekday": "0", "hour": "8"}).status_code == 403
    client_for(mallory).post(url, {"recipients": "Client@Example.test\nboss@example.test", "weekday": "0", "hour": "8"})
    subscription = ReportSubscription.objects.get()
    assert subscription.recipients == ["client@example.test", "boss@example.test"]
    page = client_for(bob).get(f"/w/{workspace.slug}/reports/campaigns/{sent_run.campaign_id}/").content.decode()
    assert "Every Monday at 08:00 to client@example.test, boss@example.test" in page
    # Sunday evening: not yet; Monday 07:30 in Amsterdam: not yet; Monday 08:05: sent, once
    monday = dt.datetime(2026, 12, 7, 8, 5, tzinfo=AMSTERDAM)
    assert services.weekly_reports_send(monday - dt.timedelta(hours=12)) == 0
    assert services.weekly_reports_send(monday - dt.timedelta(minutes=35)) == 0
    assert services.weekly_reports_send(monday) == 1
    assert services.weekly_reports_send(monday + dt.timedelta(hours=1)) == 0
    (message,) = mail.outbox
    assert message.to == ["client@example.test", "boss@example.test"]
    assert message.subject == f"Weekly report: {sent_run.campaign.name} (Northwind)"
    assert "Sent: 3 (0 failed)" in message.body
    (name, content, mimetype), = message.attachments
    assert mimetype == "application/pdf" and content.startswith(b"%PDF")
    # the next Monday again
    assert services.weekly_reports_send(monday + dt.timedelta(days=7)) == 1
    # an archived workspace sends nothing
    workspace.archived_at = monday
    workspace.save(update_fields=["archived_at"])
    assert services.weekly_reports_send(monday + dt.timedelta(days=14)) == 0


def test_cancelling_stops_the_mail(client_for, mallory, workspace, sent_run):
    subscription = services.subscription_create(workspace=workspace, actor=mallory, campaign=sent_run.campaign,
                                                recipients="client@example.test", weekday=0, hour=8)
    assert client_for(mallory).post(f"/w/{workspace.slug}/reports/weekly/{subscription.pk}/delete/").status_code == 302
    assert not ReportSubscription.objects.exists()
    assert services.weekly_reports_send(dt.datetime(2026, 12, 7, 9, 0, tzinfo=AMSTERDAM)) == 0
