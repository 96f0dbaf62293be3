"""A few past campaigns of the travel workspace, so that its reports, the workspace home
and the agency home have something to show on a fresh install: each a finished live run
whose delivery was sent days ago, with the receipts, opens (some by Apple's privacy
proxy), clicks, bounces, complaints and unsubscribes that followed over the next days.

History cannot be sent today, so it is written as rows, the way an import of a former
platform's sends would be: messages are created queued and then marked sent (the ledger's
triggers count them, as for a live send), events are inserted with their past times.
Which customer opens or clicks is drawn from a hash of the message id, so a reload
gives the same figures. Set-based: one statement per kind of row."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from psycopg import sql

from apps.campaigns.models import Run
from apps.campaigns.selectors import campaign_list
from apps.campaigns.services import campaign_create
from apps.channels.models import Delivery, Message, MessageEvent
from apps.core.sqlutil import execute, fetchone, workspace_schema

# (name, days ago, share of customers, rates: open, click among openers, hard bounce,
# complaint, unsubscribe, Apple proxy opens)
HISTORY = [
    ("Winter sun deals", 40, 0.55, {"open": 0.38, "click": 0.22, "bounce": 0.012, "complaint": 0.0006,
                                    "unsubscribe": 0.003, "proxy": 0.15}),
    ("Autumn newsletter", 18, 0.70, {"open": 0.31, "click": 0.15, "bounce": 0.008, "complaint": 0.004,
                                     "unsubscribe": 0.006, "proxy": 0.17}),
    ("Last-minute weekend", 4, 0.35, {"open": 0.46, "click": 0.31, "bounce": 0.005, "complaint": 0.0,
                                      "unsubscribe": 0.002, "proxy": 0.16}),
]
LINKS = ["https://northwind.test/offers/winter", "https://northwind.test/destinations", "https://northwind.test/account"]


def _draw(salt: str) -> sql.Composable:
    """A number in [0, 1) fixed by the message id and `salt` (m is the message)."""
    return sql.SQL("((hashtext(m.id::text || {}) & 65535) / 65536.0)").format(sql.Literal(salt))


def _definition(template_id: int) -> dict[str, Any]:
    return {"nodes": [{"id": "start", "type": "start"},
                      {"id": "audience", "type": "build_audience", "label": "Newsletter customers", "settings": {
                          "definition": {"entity": "customer", "rule": {"attr": "customer_id", "op": "gte",
                                                                        "value": 0}}}},
                      {"id": "mail", "type": "email", "label": "Email", "settings": {
                          "template_id": template_id, "topic": "newsletter"}},
                      {"id": "end", "type": "end"}],
            "edges": [{"from": "start", "outlet": "out", "to": "audience"},
                      {"from": "audience", "outlet": "out", "to": "mail"}, {"from": "mail", "outlet": "out", "to": "end"}]}


def _past_delivery(workspace, campaign, template, sent_at: dt.datetime, share: float) -> Delivery:
    run = Run.objects.create(workspace=workspace, campaign=campaign, version=campaign.versions.order_by("number").first(),
                             mode="live", status="done", trigger="schedule", scheduled_for=sent_at,
                             started_at=sent_at, finished_at=sent_at + dt.timedelta(hours=1))
    Run.objects.filter(pk=run.pk).update(created_at=sent_at)
    delivery = Delivery.objects.create(
        workspace=workspace, channel="email", name=f"{campaign.name} · Email (mail)", campaign=campaign, run=run,
        node_id="mail", status="done", content=template.content, options={"track_opens": True, "track_clicks": True,
                                                                          "topic": "newsletter"},
        expires_at=sent_at + dt.timedelta(hours=12), finished_at=sent_at + dt.timedelta(hours=1))
    customers = sql.Identifier(workspace_schema(workspace.pk), "customer")
    message_table = sql.Identifier(Message._meta.db_table)
    # Those who said yes to the newsletter (7 in 10) get it; a share of them was targeted.
    execute(sql.SQL(
        "INSERT INTO {m} (workspace_id, delivery_id, profile_key, target_key, address, status, reason, attempts, "
        "provider_id, error) "
        "SELECT %s, %s, c.customer_id::text, c.customer_id::text, lower(c.email), "
        "CASE WHEN c.customer_id %% 10 < 7 THEN 'queued' ELSE 'excluded' END, "
        "CASE WHEN c.customer_id %% 10 < 7 THEN '' ELSE 'no_consent' END, 0, '', '' "
        "FROM {c} c WHERE c.email IS NOT NULL AND (hashtext(c.customer_id::text || %s) & 65535) / 65536.0 < %s "
        "ORDER BY c.customer_id").format(m=message_table, c=customers),
        [workspace.pk, delivery.pk, campaign.name, share])
    queued, excluded = fetchone(sql.SQL(
        "SELECT count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'excluded') "
        "FROM {} WHERE delivery_id = %s").format(message_table), [delivery.pk])
    # Sent over forty minutes, in id order.
    execute(sql.SQL(
        "UPDATE {m} m SET status = 'sent', attempts = 1, sent_at = %s + (m.id - f.first) * interval '40 minutes' / "
        "greatest(%s, 1), provider_id = 'demo-' || m.id "
        "FROM (SELECT min(id) AS first FROM {m} WHERE delivery_id = %s) f "
        "WHERE m.delivery_id = %s AND m.status = 'queued'").format(m=message_table),
        [sent_at, queued, delivery.pk, delivery.pk])
    Delivery.objects.filter(pk=delivery.pk).update(
        created_at=sent_at - dt.timedelta(minutes=5), total=queued + excluded,
        counts={"queued": queued, "excluded": {"no_consent": excluded} if excluded else {}})
    return delivery


def _events(delivery: Delivery, rates: dict[str, float]) -> None:
    """Receipts, opens, clicks, bounces, complaints and unsubscribes, in time order per
    message: one INSERT per kind."""
    events = sql.Identifier(MessageEvent._meta.db_table)
    messages = sql.Identifier(Message._meta.db_table)
    base = sql.SQL("FROM {m} m WHERE m.delivery_id = {d} AND m.status = 'sent' ").format(
        m=messages, d=sql.Literal(delivery.pk))
    bounced = sql.SQL("{} < {}").format(_draw("bounce"), sql.Literal(rates["bounce"]))
    opened = sql.SQL("{} < {}").format(_draw("open"), sql.Literal(rates["open"]))
    later = sql.SQL("m.sent_at + interval '1 minute' * (5 + 4000 * power({}, 3))")

    def insert(kind: str, when: sql.Composable, data: sql.Composable, where: sql.Composable) -> None:
        execute(sql.SQL("INSERT INTO {e} (workspace_id, message_id, type, at, data) "
                        "SELECT m.workspace_id, m.id, {k}, {w}, {data} {base} AND {where} ORDER BY 4").format(
            e=events, k=sql.Literal(kind), w=when, data=data, base=base, where=where))

    person = sql.SQL("""jsonb_build_object('user_agent', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) """
                     """AppleWebKit/605.1.15 (KHTML, like Gecko)', 'ip', '198.51.100.' || (m.id % 250))""")
    insert("bounced", sql.SQL("m.sent_at + interval '20 seconds'"), sql.SQL(
        "jsonb_build_object('description', '550 5.1.1 mailbox unavailable')"), bounced)
    insert("delivered", sql.SQL("m.sent_at + interval '4 seconds'"), sql.SQL("'{}'::jsonb"),
           sql.SQL("NOT ({})").format(bounced))
    insert("open", sql.SQL("m.sent_at + interval '90 seconds'"), sql.SQL(
        "jsonb_build_object('user_agent', 'Mozilla/5.0', 'ip', '17.58.1.' || (m.id % 250), 'machine', 'apple_mpp')"),
        sql.SQL("NOT ({}) AND {} < {}").format(bounced, _draw("proxy"), sql.Literal(rates["proxy"])))
    insert("open", later.format(_draw("open-at")), person, sql.SQL("NOT ({}) AND {}").format(bounced, opened))
    insert("open", later.format(_draw("reopen-at")), person, sql.SQL("NOT ({}) AND {} AND {} < 0.35").format(
        bounced, opened, _draw("reopen")))
    link = sql.SQL("({})[1 + (m.id % {})]").format(
        sql.SQL("ARRAY[{}]").format(sql.SQL(", ").join(sql.Literal(u) for u in LINKS)), sql.Literal(len(LINKS)))
    insert("click", sql.SQL("{} + interval '40 seconds'").format(later.format(_draw("open-at"))),
           sql.SQL("{} || jsonb_build_object('url', {} || '?utm_source=newsletter&cid=' || m.id)").format(person, link),
           sql.SQL("NOT ({}) AND {} AND {} < {}").format(bounced, opened, _draw("click"), sql.Literal(rates["click"])))
    for kind, rate in (("complained", rates["complaint"]), ("unsubscribed", rates["unsubscribe"])):
        insert(kind, later.format(_draw(kind + "-at")), sql.SQL("'{}'::jsonb"),
               sql.SQL("NOT ({}) AND {} AND {} < {}").format(bounced, opened, _draw(kind),
                                                            sql.Literal(rate / max(rates["open"], 0.01))))
    # A hard bounce turns a sent message failed, as the email services' reports do.
    execute(sql.SQL("UPDATE {m} m SET status = 'failed', reason = 'bounced' "
                    "WHERE m.delivery_id = %s AND m.status = 'sent' AND {b}").format(m=messages, b=bounced),
            [delivery.pk])


def load_history(workspace, template) -> int:
    """The past campaigns not there yet; how many were written."""
    written = 0
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for name, days_ago, share, rates in HISTORY:
        if campaign_list(workspace=workspace).filter(name=name).exists():
            continue
        with transaction.atomic():
            campaign = campaign_create(workspace=workspace, actor=None, name=name,
                                       definition=_definition(template.pk))
            sent_at = (now - dt.timedelta(days=days_ago)).replace(hour=9)
            delivery = _past_delivery(workspace, campaign, template, sent_at, share)
            _events(delivery, rates)
            type(campaign).objects.filter(pk=campaign.pk).update(status="completed")
        written += 1
    return written
