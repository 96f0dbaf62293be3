"""The messaging part of the demo workspace (northwind-travel): subscription topics, the
consents of most demo customers, an email template and a draft campaign that uses them,
so a new user can test-run, publish and send at once. Idempotent."""

from __future__ import annotations

from django.db import connection, transaction
from psycopg import sql

from apps.core.sqlutil import render, workspace_schema

from .models import ConsentEvent, Topic

TEMPLATE_HTML = """<html><body>
<p>Dear {{ profile.first_name|default('traveller') }},</p>
<p>Spring is here: as a {{ profile.loyalty_tier|default('valued') }} member you get early access to our offers.</p>
<p><a href="https://northwind.example/offers?country={{ profile.country }}">See your offers</a></p>
<p style="font-size:small">You receive this because you subscribed to our newsletter.
<a href="{{ links.unsubscribe }}">Unsubscribe</a> · <a href="{{ links.preferences }}">Your preferences</a></p>
</body></html>"""


def load_messaging_demo(workspace) -> dict[str, int]:
    from apps.campaigns.models import Campaign  # noqa: PLC0415
    from apps.campaigns.services import campaign_create  # noqa: PLC0415
    from apps.channels.models import ContentTemplate  # noqa: PLC0415

    counts = {}
    with transaction.atomic():
        newsletter, _ = Topic.objects.get_or_create(
            workspace=workspace, channel="email", key="newsletter",
            defaults={"name": "Newsletter", "policy": "opt_in", "description": "Offers and travel ideas, monthly."})
        Topic.objects.get_or_create(workspace=workspace, channel="email", key="service",
                                    defaults={"name": "Service updates", "policy": "opt_out",
                                              "description": "News about your bookings and account."})
        Topic.objects.get_or_create(workspace=workspace, channel="sms", key="alerts",
                                    defaults={"name": "Travel alerts", "policy": "opt_in"})
        if not ConsentEvent.objects.filter(topic=newsletter).exists():
            # Seven customers in ten said yes at sign-up (set-based: ledger and state together).
            with connection.cursor() as cursor:
                cursor.execute(render(sql.SQL(
                    "WITH ev AS (INSERT INTO consent_consentevent (workspace_id, profile_key, topic_id, channel, "
                    "granted, source, actor_label, at, recorded_at, reference, proof) SELECT %(ws)s, customer_id::text, "
                    "%(topic)s, 'email', true, 'import', 'demo', created_at, now(), 'demo sign-up form', '' FROM {} "
                    "WHERE customer_id %% 10 < 7 RETURNING id, profile_key, at) "
                    "INSERT INTO consent_consentstate (workspace_id, topic_id, profile_key, granted, at, event_id) "
                    "SELECT %(ws)s, %(topic)s, profile_key, true, at, id FROM ev").format(
                    sql.Identifier(workspace_schema(workspace.pk), "customer"))),
                    {"ws": workspace.pk, "topic": newsletter.pk})
                counts["consents"] = cursor.rowcount
        template, _ = ContentTemplate.objects.get_or_create(
            workspace=workspace, name="Spring offers", defaults={"channel": "email", "content": {
                "subject": "{{ profile.first_name|default('Traveller') }}, spring offers picked for you",
                "preheader": "Early access for members", "html": TEMPLATE_HTML}})
        if not Campaign.objects.filter(workspace=workspace, name="Spring offers").exists():
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
    return counts
