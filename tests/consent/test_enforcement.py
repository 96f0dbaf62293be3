"""Consent, suppression, frequency caps and quiet hours applied when a delivery's
messages are created, and again just before each message leaves."""

import datetime as dt
import email
from email import policy

import pytest
from django.db import connection
from django.utils import timezone

from apps.campaigns.models import ActivityRun
from apps.channels.models import Delivery, Message
from apps.consent import enforcement, services
from apps.consent.models import FrequencyCap, QuietHours, RuleSet, Topic
from tests.channels.test_sending import CONTENT, live_run


@pytest.fixture
def newsletter(workspace):
    return Topic.objects.create(workspace=workspace, key="newsletter", name="Newsletter", channel="email",
                                policy="opt_in")


def grant(workspace, topic, key, granted=True):
    services.consent_record(workspace=workspace, profile_key=key, topic=topic, granted=granted, source="api")


def statuses(run):
    delivery = Delivery.objects.get(run=run)
    return {m.target_key: (m.status, m.reason) for m in Message.objects.filter(delivery=delivery)}


def sql_update(workspace, statement):
    with connection.cursor() as cursor:
        cursor.execute(statement.format(s=f"ws_{workspace.pk}"))


def test_opt_in_topics_need_a_recorded_yes_and_a_withdrawal_wins(workspace, travel, email_config, newsletter,
                                                                  queue, sends, sink):
    grant(workspace, newsletter, 1)
    grant(workspace, newsletter, 2)
    grant(workspace, newsletter, 2, granted=False)
    run = live_run(workspace, settings={"content": CONTENT, "topic": "newsletter"})
    queue()
    assert statuses(run) == {"1": ("queued", ""), "2": ("excluded", "withdrawn"), "3": ("excluded", "no_consent")}
    assert Delivery.objects.get(run=run).counts["excluded"] == {"withdrawn": 1, "no_consent": 1}
    sends()
    assert [r.rcpt_tos for r in sink.received()] == [["anna@example.test"]]


def test_opt_out_topics_send_unless_a_recorded_no(workspace, travel, email_config, queue):
    offers = Topic.objects.create(workspace=workspace, key="offers", name="Offers", channel="email", policy="opt_out")
    grant(workspace, offers, 3, granted=False)
    run = live_run(workspace, settings={"content": CONTENT, "topic": "offers"})
    queue()
    assert statuses(run) == {"1": ("queued", ""), "2": ("queued", ""), "3": ("excluded", "withdrawn")}


def test_a_marketing_email_must_name_a_topic_when_the_channel_has_topics(workspace, travel, email_config,
                                                                         newsletter, queue):
    run = live_run(workspace, settings={"content": CONTENT})
    queue()
    mail = ActivityRun.objects.get(run=run, node_id="mail")
    assert mail.status == "failed" and "needs a subscription topic (one of: newsletter)" in mail.error


def test_suppressed_addresses_and_domains_are_excluded_even_for_transactional(workspace, travel, email_config,
                                                                             newsletter, queue):
    services.suppression_add(workspace=workspace, kind="email", value="Anna@Example.test", reason="hard_bounce")
    services.suppression_add(workspace=workspace, kind="domain", value="example.test", reason="manual",
                             expires_at=timezone.now() - dt.timedelta(days=1))  # expired: no effect
    services.suppression_add(workspace=workspace, kind="email", value=services.hashed_value("chloe@example.test"),
                             reason="erased", hashed=True)
    run = live_run(workspace, settings={"content": CONTENT, "category": "transactional"})
    queue()
    assert statuses(run) == {"1": ("excluded", "suppressed"), "2": ("queued", ""), "3": ("excluded", "suppressed")}
    services.suppression_add(workspace=workspace, kind="domain", value="example.test", reason="manual")
    run = live_run(workspace, settings={"content": CONTENT, "category": "transactional"})
    queue()
    assert statuses(run)["2"] == ("excluded", "suppressed_domain")


def test_frequency_caps_count_the_ledger(workspace, travel, email_config, newsletter, queue, sends):
    for key in (1, 2, 3):
        grant(workspace, newsletter, key)
    rules = RuleSet.objects.create(workspace=workspace, name="Max 1 a day")
    FrequencyCap.objects.create(workspace=workspace, rule_set=rules, channel="email", limit=1, period="day")
    settings = {"content": CONTENT, "topic": "newsletter", "rule_set_id": rules.pk}
    first = live_run(workspace, settings=settings)
    queue()
    sends()
    assert set(statuses(first).values()) == {("sent", "")}
    second = live_run(workspace, settings=settings)
    queue()
    assert set(statuses(second).values()) == {("excluded", "frequency_cap")}
    # Transactional messages do not count and are not capped.
    third = live_run(workspace, settings={"content": CONTENT, "category": "transactional", "rule_set_id": rules.pk})
    queue()
    assert set(statuses(third).values()) == {("queued", "")}


def test_consent_is_checked_again_just_before_sending(workspace, travel, email_config, newsletter, queue, sends,
                                                      sink):
    for key in (1, 2, 3):
        grant(workspace, newsletter, key)
    run = live_run(workspace, settings={"content": CONTENT, "topic": "newsletter"})
    queue()
    assert set(statuses(run).values()) == {("queued", "")}
    # in the meantime: Ben withdraws, Chloe's address bounces hard
    grant(workspace, newsletter, 2, granted=False)
    services.bounce_record(workspace=workspace, address="chloe@example.test", hard=True)
    sends()
    assert statuses(run) == {"1": ("sent", ""), "2": ("excluded", "withdrawn"), "3": ("excluded", "suppressed")}
    assert [r.rcpt_tos for r in sink.received()] == [["anna@example.test"]]


def test_soft_bounces_suppress_at_the_workspace_threshold(workspace):
    policy = services.policy_for(workspace)
    policy.soft_bounce_threshold = 3
    policy.save()
    for _ in range(2):
        assert services.bounce_record(workspace=workspace, address="x@example.test", hard=False) is None
    suppression = services.bounce_record(workspace=workspace, address="X@example.test", hard=False)
    assert (suppression.value, suppression.reason) == ("x@example.test", "soft_bounces")


def test_every_marketing_email_carries_one_click_unsubscribe(workspace, travel, email_config, newsletter, queue,
                                                             sends, sink):
    grant(workspace, newsletter, 1)
    content = dict(CONTENT, html=CONTENT["html"].replace("</body>", '<a href="{{ links.unsubscribe }}">Stop</a>'
                                                                   '</body>'))
    live_run(workspace, settings={"content": content, "topic": "newsletter"})
    queue()
    sends()
    (received,) = sink.received()
    message = email.message_from_bytes(received.data.replace(b"\r\n", b"\n"), policy=policy.default)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = message["List-Unsubscribe"].split(",")[0].strip("<> ")
    assert "/u/" in url and "mailto:" in message["List-Unsubscribe"]
    html = message.get_body(("html",)).get_content()
    assert url in html  # links.unsubscribe in the template, and not rewritten through the click redirect


@pytest.mark.parametrize("now_utc,expected", [
    # 06:30 in Amsterdam (CET, UTC+1): deferred to 08:00 local = 07:00 UTC; New York 00:30: to 08:00 EST = 13:00 UTC
    ("2026-01-15T05:30:00+00:00", {"1": "2026-01-15T07:00:00+00:00", "3": "2026-01-15T13:00:00+00:00"}),
    # the night Europe moves to summer time (29 March 2026, 02:00 CET -> 03:00 CEST): at 03:30 CEST in
    # Amsterdam the next 08:00 is CEST, 06:00 UTC; New York (already on EDT) is at 21:30: 08:00 EDT is 12:00 UTC
    ("2026-03-29T01:30:00+00:00", {"1": "2026-03-29T06:00:00+00:00", "3": "2026-03-29T12:00:00+00:00"}),
])
def test_quiet_hours_defer_to_the_next_allowed_time_in_the_recipients_zone(
        workspace, travel, email_config, queue, monkeypatch, now_utc, expected):
    from apps.datamodel.models import AddressMapping
    from apps.datamodel.services import attribute_add

    entity = travel["customer"]
    attribute = attribute_add(workspace=workspace, actor=None, entity=entity,
                              spec={"key": "tz", "label": "Time zone", "type": "text"})
    AddressMapping.objects.update_or_create(workspace=workspace, role="timezone", defaults={"attribute": attribute})
    sql_update(workspace, "UPDATE {s}.customer SET tz = CASE customer_id WHEN 1 THEN 'Europe/Amsterdam' "
                          "WHEN 2 THEN 'Asia/Tokyo' ELSE 'America/New_York' END")
    QuietHours.objects.create(workspace=workspace, channel="email", allowed_from=dt.time(8), allowed_until=dt.time(21))
    monkeypatch.setattr(enforcement, "CLOCK", f"'{now_utc}'")
    monkeypatch.setattr(timezone, "now", lambda: dt.datetime.fromisoformat(now_utc))
    run = live_run(workspace, settings={"content": CONTENT, "category": "transactional"})
    queue()
    delivery = Delivery.objects.get(run=run)
    rows = {m.target_key: m for m in Message.objects.filter(delivery=delivery)}
    # Tokyo is in the afternoon: it goes now
    assert (rows["2"].status, rows["2"].next_attempt_at) == ("queued", None)
    for key, when in expected.items():
        assert (rows[key].status, rows[key].reason) == ("deferred", "quiet_hours")
        assert rows[key].next_attempt_at == dt.datetime.fromisoformat(when)
    assert delivery.counts["deferred"] == {"quiet_hours": 2}


@pytest.mark.parametrize("event_type,expected", [
    ("bounced", "hard_bounce"), ("complained", "complaint"), ("soft_bounced", None)])
def test_provider_reports_feed_the_suppression_list(workspace, travel, email_config, queue, sends, event_type,
                                                    expected):
    from apps.channels.events import event_record
    from apps.consent.models import Suppression

    run = live_run(workspace, settings={"content": CONTENT, "category": "transactional"})
    queue()
    sends()
    message = Message.objects.get(delivery__run=run, address="ben@example.test")
    event_record(message=message, type=event_type, data={})
    entry = Suppression.objects.filter(workspace=workspace, value="ben@example.test").first()
    assert (entry.reason if entry else None) == expected



@pytest.mark.parametrize("typed", ["İstanbul.Anna@EXAMPLE.test", "ΣΟΦΙΑΣ@example.test", " Anna@Example.TEST "])
def test_suppressions_fold_case_as_the_ledger_folds_addresses(workspace, typed):
    # The ledger stores lower(btrim(address)) computed by PostgreSQL; Python's lower()
    # differs beyond ASCII ('İ' gains a combining dot, a final sigma stays final).
    suppression = services.suppression_add(workspace=workspace, kind="email", value=typed, reason="manual")
    with connection.cursor() as cursor:
        cursor.execute("SELECT lower(btrim(%s))", [typed])
        assert suppression.value == cursor.fetchone()[0]
