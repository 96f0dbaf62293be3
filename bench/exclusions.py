"""python manage.py bench exclusions [--recipients N] [--suppressed N] [--workspace SLUG] [--keep]

Creating a delivery's messages for N recipients (default 1,000,000) as a live channel
activity does it (classification into a scratch table, then one INSERT ... SELECT into
the ledger), with consent and business rules applied:
  - an opt-in topic (90% of the profiles said yes, 3% withdrew since),
  - 100,000 suppression entries (addresses of profiles and others, and a domain),
  - a frequency cap of 2 a week counted over a previous delivery of N/5 sent messages,
beside the same creation with no checks (the consent hooks removed), in the same run.
Case `exclusions`, unit s; the bar is a ratio of at most 2."""

from __future__ import annotations

import argparse
import time

from django.db import connection, transaction
from psycopg import sql

from apps.channels import ledger, policy, sending, services
from apps.channels.models import Delivery, Message
from apps.consent.models import FrequencyCap, RuleSet, Topic
from apps.core.sqlutil import render as render_sql
from apps.core.sqlutil import workspace_schema
from apps.datamodel.demo.generate import generate
from apps.datamodel.schema import Schema
from bench.audience import _vacuum
from bench.common import emit, scratch_workspace


def _execute(query, params=None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(render_sql(query) if not isinstance(query, str) else query, params)
        return cursor.rowcount


def _setup(workspace, n: int, suppressed: int) -> dict:
    schema_name = workspace_schema(workspace.pk)
    _execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema_name, "bench_exclusions")))
    _execute(sql.SQL("CREATE UNLOGGED TABLE {} AS SELECT customer_id AS key FROM {} ORDER BY customer_id "
                     "LIMIT %s").format(sql.Identifier(schema_name, "bench_exclusions"),
                                        sql.Identifier(schema_name, "customer")), [n])
    topic, _ = Topic.objects.get_or_create(workspace=workspace, channel="email", key="bench-news",
                                           defaults={"name": "Bench news", "policy": "opt_in"})
    rules, _ = RuleSet.objects.get_or_create(workspace=workspace, name="bench: 2 a week")
    FrequencyCap.objects.get_or_create(workspace=workspace, rule_set=rules, channel="email", limit=2, period="week")
    _execute("DELETE FROM consent_consentstate WHERE topic_id = %s", [topic.pk])
    _execute("DELETE FROM consent_suppression WHERE workspace_id = %s", [workspace.pk])
    # Consent state as an import leaves it (the ledger rows behind it do not take part in sending).
    _execute("INSERT INTO consent_consentevent (workspace_id, profile_key, topic_id, channel, granted, source, "
             "actor_label, at, recorded_at, reference, proof) VALUES (%s, '0', %s, 'email', true, 'import', "
             "'bench', now(), now(), '', '')", [workspace.pk, topic.pk])
    customers = f'"{schema_name}"."customer"'  # a generated schema name: ws_<id>
    _execute("INSERT INTO consent_consentstate (workspace_id, topic_id, profile_key, granted, at, event_id) "
             "SELECT %s, %s, customer_id::text, (customer_id %% 100) >= 3, now(), "
             f"(SELECT max(id) FROM consent_consentevent WHERE topic_id = %s) FROM {customers} "
             "WHERE customer_id %% 10 <> 0", [workspace.pk, topic.pk, topic.pk])
    # 100,000 suppressions: half are profiles' addresses, half strangers', and one domain.
    _execute("INSERT INTO consent_suppression (workspace_id, kind, value, hashed, reason, note, created_at) "
             f"SELECT %s, 'email', lower(email), false, 'hard_bounce', '', now() FROM {customers} "
             "WHERE customer_id %% 20 = 7 LIMIT %s ON CONFLICT DO NOTHING", [workspace.pk, suppressed // 2])
    _execute("INSERT INTO consent_suppression (workspace_id, kind, value, hashed, reason, note, created_at) "
             "SELECT %s, 'email', 'stranger' || i || '@elsewhere.test', false, 'manual', '', now() "
             "FROM generate_series(1, %s) i", [workspace.pk, suppressed - suppressed // 2 - 1])
    _execute("INSERT INTO consent_suppression (workspace_id, kind, value, hashed, reason, note, created_at) "
             "VALUES (%s, 'domain', 'blocked.test', false, 'manual', '', now())", [workspace.pk])
    _execute("ANALYZE consent_suppression")
    _execute("ANALYZE consent_consentstate")
    return {"topic": topic, "rules": rules}


def _create(workspace, settings: dict) -> tuple[float, Delivery]:
    schema = Schema.load(workspace)
    audience = ledger.audience_for(workspace, schema, "email", schema.entities["customer"], settings)
    schema_name = workspace_schema(workspace.pk)
    scratch = sql.Identifier(schema_name, "bench_exclusions_classified")
    started = time.perf_counter()
    with transaction.atomic():
        ledger.classify_into(audience, sql.Identifier(schema_name, "bench_exclusions"), scratch, _execute)
        delivery = services.delivery_create(
            workspace=workspace, channel="email", name="bench exclusions", content={"subject": "x", "html": "x"},
            options=services.delivery_options(audience, settings, "bench_exclusions", [], {}),
            classified=sql.SQL("SELECT target_key, profile_key, address, reason, defer_until FROM {}").format(scratch))
        _execute(sql.SQL("DROP TABLE {}").format(scratch))
    return time.perf_counter() - started, delivery


class _NoRules(policy.SendPolicy):
    """The baseline: the classification without any consent rule."""

    def exclusions(self, audience):
        return []

    def deferral(self, audience):
        return None

    def check_before_send(self, delivery, rows):
        return {}

    def links(self, delivery, row):
        return {}

    def headers(self, delivery, row, links):
        return {}

    def on_event(self, event, message):
        pass

    def settings_problem(self, workspace, channel, settings):
        return None

    def setting_choices(self, workspace, channel):
        return {}


def run_case(workspace, n: int, suppressed: int) -> None:
    sending.DISPATCH = lambda _pk: None
    setup = _setup(workspace, n, suppressed)
    settings = {"topic": setup["topic"].key, "rule_set_id": setup["rules"].pk}
    # A previous marketing delivery, sent this week, for the cap to count.
    _seconds, previous = _create(workspace, {"category": "transactional"})
    _execute("UPDATE channels_message SET status = 'sent', sent_at = now() - interval '1 day' WHERE delivery_id = %s "
             "AND status = 'queued' AND id %% 5 = 0", [previous.pk])
    Delivery.objects.filter(pk=previous.pk).update(options={**previous.options, "category": "marketing"})
    _execute("UPDATE channels_message SET status = 'sent', sent_at = now() - interval '2 days' WHERE delivery_id = %s "
             "AND status = 'sent' AND id %% 10 = 0", [previous.pk])
    # Two prior messages for every tenth of those: they reach the cap of 2 a week.
    _execute("INSERT INTO channels_message (workspace_id, delivery_id, profile_key, target_key, address, status, "
             "reason, attempts, provider_id, error, sent_at) SELECT workspace_id, delivery_id, profile_key, target_key, "
             "address, 'sent', '', 1, '', '', now() - interval '3 days' FROM channels_message WHERE delivery_id = %s "
             "AND status = 'sent' AND id %% 10 = 0", [previous.pk])
    _execute("ANALYZE channels_message")
    with policy.swapped(_NoRules()):
        baseline, plain = _create(workspace, {"category": "transactional"})
    ours, checked = _create(workspace, settings)
    emit("exclusions", "exclusions", "s", ours, baseline, recipients=n, suppressions=suppressed,
         queued=checked.counts["queued"], excluded=checked.counts["excluded"], at_most_2x=ours <= 2 * baseline,
         baseline_queued=plain.counts["queued"])
    for delivery in (previous, plain, checked):
        Message.objects.filter(delivery=delivery).delete()
        delivery.delete()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="manage.py bench exclusions")
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--suppressed", type=int, default=100_000)
    parser.add_argument("--workspace", help="reuse a workspace with travel demo data (e.g. one kept with --keep)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    if args.workspace:
        from apps.tenants.models import Workspace

        run_case(Workspace.objects.get(slug=args.workspace), args.recipients, args.suppressed)
        return
    with scratch_workspace("bench-exclusions", keep=args.keep) as workspace:
        generate(workspace=workspace, profiles=args.recipients)
        _vacuum(workspace)
        run_case(workspace, args.recipients, args.suppressed)
