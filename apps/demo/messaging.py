"""The messaging part of the demo workspace (northwind-travel): subscription topics, the
consents of most demo customers, an email template and a draft campaign that uses them,
so a new user can test-run, publish and send at once. Idempotent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import transaction
from psycopg import sql

from apps.campaigns.selectors import campaign_list
from apps.campaigns.services import campaign_create
from apps.channels.configuration import template_write
from apps.channels.selectors import template_list
from apps.consent import imports
from apps.consent.configuration import topic_create
from apps.consent.models import ConsentEvent
from apps.consent.selectors import topic_list
from apps.core.sqlutil import fetchall, workspace_schema

from . import history

TEMPLATE_HTML = """<html><body>
<p>Dear {{ profile.first_name|default('traveller') }},</p>
<p>Spring is here: as a {{ profile.loyalty_tier|default('valued') }} member you get early access to our offers.</p>
<p><a href="https://northwind.example/offers?country={{ profile.country }}">See your offers</a></p>
<p style="font-size:small">You receive this because you subscribed to our newsletter.
<a href="{{ links.unsubscribe }}">Unsubscribe</a> · <a href="{{ links.preferences }}">Your preferences</a></p>
</body></html>"""

TOPICS = [
    {"channel": "email", "key": "newsletter", "name": "Newsletter", "policy": "opt_in",
     "description": "Offers and travel ideas, monthly."},
    {"channel": "email", "key": "service", "name": "Service updates", "policy": "opt_out",
     "description": "News about your bookings and account."},
    {"channel": "sms", "key": "alerts", "name": "Travel alerts", "policy": "opt_in"},
]
SIGNUP_REFERENCE = "demo sign-up form"
# consent_import takes at most MAX_ROWS rows a call (what one request may hold): the
# sign-ups of a large demo table go in batches of that size.
SIGNUP_BATCH = imports.MAX_ROWS


def _signups(workspace) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """Seven customers in ten said yes to the newsletter at sign-up: batches of
    (row, consent record), the row being the customer id."""
    query = sql.SQL("SELECT customer_id, created_at FROM {} WHERE customer_id %% 10 < 7 AND customer_id > %s "
                    "ORDER BY customer_id LIMIT %s").format(sql.Identifier(workspace_schema(workspace.pk), "customer"))
    last = 0
    while rows := fetchall(query, [last, SIGNUP_BATCH]):
        yield [(customer_id, {"profile_key": str(customer_id), "topic": "newsletter", "channel": "email",
                              "granted": True, "at": created_at.isoformat(), "source": "import"})
               for customer_id, created_at in rows]
        last = rows[-1][0]


def _consents(workspace) -> int:
    imported = 0
    for batch in _signups(workspace):
        # A label for an actor, as the consent services take it ("recipient", "provider
        # webhook"): the ledger says who answered.
        report = imports.consent_import(workspace=workspace, actor="demo", records=batch,
                                        reference=SIGNUP_REFERENCE)
        if report.status != "done":
            raise RuntimeError(f"demo consent import failed: {report.message} {report.errors[:3]}")
        imported += report.imported
    return imported


def load_messaging_demo(workspace) -> dict[str, int]:
    counts = {}
    with transaction.atomic():
        topics = {}
        for spec in TOPICS:
            topic = topic_list(workspace=workspace, channel=spec["channel"]).filter(key=spec["key"]).first()
            topics[spec["key"]] = topic or topic_create(workspace=workspace, actor=None, **spec)
        if not ConsentEvent.objects.filter(topic=topics["newsletter"]).exists():
            counts["consents"] = _consents(workspace)
        template = template_list(workspace=workspace).filter(name="Spring offers").first()
        if template is None:
            template = template_write(workspace=workspace, actor=None, name="Spring offers", channel="email", content={
                "subject": "{{ profile.first_name|default('Traveller') }}, spring offers picked for you",
                "preheader": "Early access for members", "html": TEMPLATE_HTML})
        if not campaign_list(workspace=workspace).filter(name="Spring offers").exists():
            campaign_create(workspace=workspace, actor=None, name="Spring offers", definition={
                "nodes": [
                    {"id": "start", "type": "start", "position": {"x": 0, "y": 0}},
                    {"id": "audience", "type": "build_audience", "label": "Customers in NL and DE", "settings": {
                        "definition": {"entity": "customer", "rule": {"attr": "country", "op": "in",
                                                                      "value": ["NL", "DE"]}}}},
                    {"id": "mail", "type": "email", "label": "Spring offers email", "settings": {
                        "template_id": template.pk, "topic": "newsletter"}},
                    {"id": "end", "type": "end"}],
                "edges": [{"from": "start", "outlet": "out", "to": "audience"},
                          {"from": "audience", "outlet": "out", "to": "mail"},
                          {"from": "mail", "outlet": "out", "to": "end"}]})
            counts["campaigns"] = 1
    past = history.load_history(workspace, template)
    if past:
        counts["past_campaigns"] = past
    return counts
