"""python manage.py bench campaign [--profiles N] [--workspace SLUG] [--keep]

On the travel demo data, a test run of: Build audience -> Exclusion (recent bookers) ->
Split (3 subsets and the rest) -> per subset Enrichment (next booking) -> Deduplication
(by email) -> a channel activity (email, SMS, direct mail). Our figure is the run's wall
time through the executor (each activity claimed and run as a worker would, in this
process); the baseline is the sum of the same steps written by hand as SQL statements
into tables, on the same connection. Case `test-run`, unit s.

`--case launch-latency [--launches N]`: how long after its launch time a scheduled run
starts, with a real worker and beat (see bench/launch_latency.py), for one-off launches
and then for recurring campaigns that have run for a year (every 15 minutes): two lines.
Needs no demo data. `--case launch-latency-recurring`: the recurring line alone."""

from __future__ import annotations

import argparse
import time

from django.db import connection, transaction
from django.utils import timezone

from apps.audiences.selectors import AUDIENCE_WORK_MEM
from apps.campaigns import executor, services
from apps.campaigns.models import ActivityRun
from apps.demo.generate import generate
from bench.audience import _vacuum
from bench.common import emit, scratch_workspace

SUBSETS = [("premium", {"attr": "loyalty_tier", "op": "in", "value": ["gold", "platinum"]}),
           ("silver", {"attr": "loyalty_tier", "op": "eq", "value": "silver"}),
           ("sample", None)]
CHANNELS = {"premium": "email", "silver": "sms", "sample": "direct_mail"}


def definition() -> dict:
    nodes = [{"id": "start", "type": "start"},
             {"id": "target", "type": "build_audience", "settings": {"definition": {
                 "entity": "customer", "rule": {"attr": "country", "op": "in", "value": ["NL", "DE", "FR", "GB"]}}}},
             {"id": "recent", "type": "build_audience", "settings": {"definition": {
                 "entity": "customer", "rule": {"related": "bookings", "exists": True, "where": {
                     "attr": "booked_at", "op": "in_last", "value": 30, "unit": "days"}}}}},
             {"id": "exclude", "type": "combine", "settings": {"operation": "exclusion"}},
             {"id": "split", "type": "split", "settings": {"subsets": [
                 {"name": name, **({"rule": rule} if rule else {"percent": 10})} for name, rule in SUBSETS]}},
             {"id": "rest", "type": "end"}]
    edges = [{"from": "start", "to": "target"}, {"from": "start", "to": "recent"},
             {"from": "target", "to": "exclude"}, {"from": "recent", "to": "exclude"},
             {"from": "exclude", "to": "split"}, {"from": "split", "outlet": "others", "to": "rest"}]
    for name, _ in SUBSETS:
        nodes += [
            {"id": f"enrich_{name}", "type": "enrichment", "settings": {"first": [{
                "name": "next", "related": "bookings", "order_by": "start_date",
                "where": {"attr": "start_date", "op": "in_next", "value": 365, "unit": "days"},
                "attributes": ["booking_id", "start_date"]}]}},
            {"id": f"dedup_{name}", "type": "deduplicate", "settings": {"fields": ["email"]}},
            {"id": f"send_{name}", "type": CHANNELS[name]},
            {"id": f"end_{name}", "type": "end"}, {"id": f"dups_{name}", "type": "end"}]
        edges += [{"from": "split", "outlet": name, "to": f"enrich_{name}"},
                  {"from": f"enrich_{name}", "to": f"dedup_{name}"},
                  {"from": f"dedup_{name}", "to": f"send_{name}"},
                  {"from": f"dedup_{name}", "outlet": "duplicates", "to": f"dups_{name}"},
                  {"from": f"send_{name}", "to": f"end_{name}"}]
    return {"nodes": nodes, "edges": edges}


HAND = [
    "CREATE UNLOGGED TABLE h_target AS SELECT customer_id AS key FROM {s}.customer "
    "WHERE country IN ('NL', 'DE', 'FR', 'GB')",
    "CREATE UNLOGGED TABLE h_recent AS SELECT c.customer_id AS key FROM {s}.customer c WHERE EXISTS "
    "(SELECT 1 FROM {s}.booking b WHERE b.customer_id = c.customer_id AND b.booked_at BETWEEN %(month_ago)s AND %(now)s)",
    "CREATE UNLOGGED TABLE h_exclude AS SELECT key FROM h_target EXCEPT SELECT key FROM h_recent",
    "CREATE UNLOGGED TABLE h_premium AS SELECT x.key FROM h_exclude x JOIN {s}.customer c ON c.customer_id = x.key "
    "WHERE c.loyalty_tier IN ('gold', 'platinum')",
    "CREATE UNLOGGED TABLE h_silver AS SELECT x.key FROM h_exclude x JOIN {s}.customer c ON c.customer_id = x.key "
    "WHERE c.loyalty_tier = 'silver' AND x.key NOT IN (SELECT key FROM h_premium)",
    "CREATE UNLOGGED TABLE h_sample AS SELECT key FROM h_exclude WHERE key NOT IN (SELECT key FROM h_premium "
    "UNION ALL SELECT key FROM h_silver) ORDER BY md5('x' || key::text) LIMIT (SELECT count(*) / 10 FROM h_exclude)",
    "CREATE UNLOGGED TABLE h_rest AS SELECT key FROM h_exclude EXCEPT (SELECT key FROM h_premium UNION "
    "SELECT key FROM h_silver UNION SELECT key FROM h_sample)",
]
PER_SUBSET = [
    "CREATE UNLOGGED TABLE h_enrich_{n} AS SELECT w.key, x.booking_id AS next__booking_id, "
    "x.start_date AS next__start_date FROM h_{n} w JOIN {s}.customer e ON e.customer_id = w.key "
    "LEFT JOIN LATERAL (SELECT b.booking_id, b.start_date FROM {s}.booking b WHERE b.customer_id = e.customer_id "
    "AND b.start_date BETWEEN %(today)s AND %(year)s ORDER BY b.start_date LIMIT 1) x ON true",
    "CREATE UNLOGGED TABLE h_dedup_{n} AS SELECT key FROM (SELECT w.key, row_number() OVER "
    "(PARTITION BY lower(c.email) ORDER BY c.customer_id) AS n FROM h_enrich_{n} w "
    "JOIN {s}.customer c ON c.customer_id = w.key) r WHERE n = 1",
    "CREATE UNLOGGED TABLE h_send_{n} AS SELECT w.key FROM h_dedup_{n} w JOIN {s}.customer c "
    "ON c.customer_id = w.key WHERE {address_ok}",
]
ADDRESS_OK = {"premium": "c.email ~ '^[^@[:space:]]+@[^@[:space:]]+[.][^@[:space:]]+$'",
              "silver": "regexp_replace(c.phone, '[^0-9]', '', 'g') ~ '^[0-9]{{6,15}}$'",
              "sample": "coalesce(c.street, '') <> '' AND coalesce(c.postal_code, '') <> '' AND coalesce(c.city, '') <> ''"}


def hand_written(workspace) -> float:
    schema = f'"ws_{int(workspace.pk)}"'
    now = timezone.now().astimezone(workspace.zone)
    params = {"now": now, "month_ago": now - timezone.timedelta(days=30), "today": now.date(),
              "year": now.date() + timezone.timedelta(days=365)}
    statements = [s.format(s=schema) for s in HAND]
    for name, _ in SUBSETS:
        statements += [s.format(s=schema, n=name, address_ok=ADDRESS_OK[name]) for s in PER_SUBSET]
    total = 0.0
    # Unlogged tables in a scratch schema, as the executor's working tables are.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('work_mem', %s, true)", [AUDIENCE_WORK_MEM])
        cursor.execute("CREATE SCHEMA bench_hand")
        cursor.execute(f"SET LOCAL search_path = bench_hand, {schema}, public")
        for statement in statements:
            started = time.perf_counter()
            cursor.execute(statement, params)
            total += time.perf_counter() - started
        transaction.set_rollback(True)
    return total


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="manage.py bench campaign")
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--workspace")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--case", choices=["test-run", "launch-latency", "launch-latency-recurring"],
                        default="test-run")
    parser.add_argument("--launches", type=int, default=3, help="launch-latency: how many scheduled launches")
    args = parser.parse_args(argv)
    if args.case == "launch-latency":
        # One-off launches, then recurring schedules that have run for a year (finding
        # their launch was once quadratic in the schedule's age): both lines printed.
        from bench.launch_latency import run_case as latency_case
        from bench.launch_latency import run_recurring_case

        with scratch_workspace("bench-latency", keep=args.keep) as workspace:
            latency_case(workspace, args.launches)
        with scratch_workspace("bench-latency", keep=args.keep) as workspace:
            run_recurring_case(workspace, args.launches)
        return
    if args.case == "launch-latency-recurring":
        from bench.launch_latency import run_recurring_case

        with scratch_workspace("bench-latency", keep=args.keep) as workspace:
            run_recurring_case(workspace, args.launches)
        return
    if args.workspace:
        from apps.tenants.models import Workspace

        run_case(Workspace.objects.get(slug=args.workspace), args)
        return
    with scratch_workspace("bench-campaign", keep=args.keep) as workspace:
        generate(workspace=workspace, profiles=args.profiles)
        _vacuum(workspace)
        run_case(workspace, args)


def run_case(workspace, args) -> None:
    pending: list[int] = []
    executor.DISPATCH = pending.append  # the executor's own claim/run code, in this process
    campaign = services.campaign_create(workspace=workspace, actor=None, name=f"Bench {time.time_ns()}",
                                        definition=definition())
    started = time.perf_counter()
    run = services.test_run_start(workspace=workspace, actor=None, campaign=campaign)
    while pending:
        executor.activity_execute(activity_run_id=pending.pop(0))
    ours = time.perf_counter() - started
    run.refresh_from_db()
    baseline = hand_written(workspace)
    activities = {a.node_id: a for a in ActivityRun.objects.filter(run=run)}
    sends = {n: activities[f"send_{n}"].report.get("recipients") for n, _ in SUBSETS}
    executor.run_tables_purge(run=run)
    slowest = sorted(((sum(e.get("ms", 0) for e in a.log), n) for n, a in activities.items()), reverse=True)[:6]
    emit("campaign", "test-run", "s", ours, baseline, status=run.status, activities=len(activities),
         recipients=sends, under_20s=ours < 20, profiles=args.profiles if not args.workspace else None,
         slowest_activities_ms={n: round(ms) for ms, n in slowest})
