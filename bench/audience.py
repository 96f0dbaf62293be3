"""python manage.py bench audience [--profiles N] [--repeat R] [--keep]

On the travel demo data (N customers, ~3N bookings, generated in a scratch workspace),
each case counts a rule with our compiler (selectors.count) and with the best SQL we
could write by hand for the same question, on the same connection and settings, warm
(median of R runs after a warm-up). Unit s; ratio = ours / hand-written."""

from __future__ import annotations

import argparse
import datetime
import statistics
import time

from django.db import connection, transaction
from django.utils import timezone

from apps.audiences import selectors
from apps.audiences.rules.compiler import Compiler
from apps.audiences.rules.definition import check_definition
from apps.datamodel.demo.generate import generate
from bench.common import emit, scratch_workspace

CASES = {
    "attribute": (
        {"entity": "customer", "rule": {"all": [{"attr": "country", "op": "eq", "value": "NL"},
                                                {"attr": "loyalty_tier", "op": "in", "value": ["gold", "platinum"]}]}},
        "SELECT count(*) FROM {s}.customer WHERE country = 'NL' AND loyalty_tier IN ('gold', 'platinum')"),
    "link": (
        {"entity": "booking", "rule": {"attr": "product.category", "op": "eq", "value": "ski"}},
        "SELECT count(*) FROM {s}.booking b JOIN {s}.product p ON p.product_id = b.product_id "
        "WHERE p.category = 'ski'"),
    "exists": (
        {"entity": "customer", "rule": {"related": "bookings", "exists": True, "where": {"all": [
            {"attr": "status", "op": "eq", "value": "confirmed"},
            {"attr": "product.category", "op": "eq", "value": "ski"},
            {"attr": "booked_at", "op": "in_last", "value": 365, "unit": "days"}]}}},
        "SELECT count(*) FROM {s}.customer c WHERE EXISTS (SELECT 1 FROM {s}.booking b "
        "JOIN {s}.product p ON p.product_id = b.product_id WHERE b.customer_id = c.customer_id "
        "AND b.status = 'confirmed' AND p.category = 'ski' AND b.booked_at BETWEEN %(year_ago)s AND %(now)s)"),
    "sum": (
        {"entity": "customer", "rule": {"related": "bookings", "agg": "sum", "attr": "amount", "op": "gt",
                                        "value": 8000, "where": {"attr": "status", "op": "in",
                                                                 "value": ["confirmed", "completed"]}}},
        "SELECT count(*) FROM {s}.customer c JOIN (SELECT customer_id FROM {s}.booking "
        "WHERE status IN ('confirmed', 'completed') GROUP BY customer_id HAVING sum(amount) > 8000) t "
        "ON t.customer_id = c.customer_id"),
    "change-dimension": (
        {"entity": "booking", "rule": {"attr": "start_date", "op": "in_next", "value": 7, "unit": "days"},
         "dimension": ["customer"]},
        "SELECT count(*) FROM {s}.customer c WHERE EXISTS (SELECT 1 FROM {s}.booking b "
        "WHERE b.customer_id = c.customer_id AND b.start_date BETWEEN %(today)s AND %(week)s)"),
    "combined": (
        {"entity": "customer", "rule": {"all": [
            {"attr": "country", "op": "in", "value": ["NL", "DE"]},
            {"not": {"attr": "loyalty_tier", "op": "eq", "value": "none"}},
            {"related": "bookings", "exists": True, "where": {"all": [
                {"attr": "product.category", "op": "eq", "value": "ski"},
                {"attr": "booked_at", "op": "in_last", "value": 365, "unit": "days"}]}},
            {"related": "bookings", "agg": "sum", "attr": "amount", "op": "gt", "value": 5000}]}},
        "SELECT count(*) FROM {s}.customer c WHERE c.country IN ('NL', 'DE') "
        "AND c.loyalty_tier IS DISTINCT FROM 'none' "
        "AND EXISTS (SELECT 1 FROM {s}.booking b JOIN {s}.product p ON p.product_id = b.product_id "
        "WHERE b.customer_id = c.customer_id AND p.category = 'ski' AND b.booked_at BETWEEN %(year_ago)s AND %(now)s) "
        "AND c.customer_id IN (SELECT customer_id FROM {s}.booking GROUP BY customer_id HAVING sum(amount) > 5000)"),
}


def _timed(run, repeat: int) -> tuple[float, int]:
    value = run()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        value = run()
        times.append(time.perf_counter() - started)
    return statistics.median(times), value


def _hand(query: str, params: dict, settings: dict) -> int:
    # The hand-written query runs with the same session settings as ours (work_mem and the
    # planner settings our compiler chose): the comparison is of the SQL, on equal terms.
    with transaction.atomic(), connection.cursor() as cursor:
        selectors.apply_settings(cursor, settings)
        cursor.execute(query, params)
        return cursor.fetchone()[0]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="manage.py bench audience")
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--workspace", help="use this workspace's travel data instead of generating it")
    args = parser.parse_args(argv)
    if args.workspace:
        from apps.tenants.models import Workspace

        run(Workspace.objects.get(slug=args.workspace), args)
        return
    with scratch_workspace("bench-audience", keep=args.keep) as workspace:
        started = time.perf_counter()
        generate(workspace=workspace, profiles=args.profiles)
        _vacuum(workspace)
        print(f"# generated {args.profiles} profiles in {time.perf_counter() - started:.1f} s", flush=True)
        run(workspace, args)


def _vacuum(workspace) -> None:
    # Index-only scans need the visibility map a VACUUM writes (autovacuum would, later).
    raw_autocommit = connection.get_autocommit()
    connection.set_autocommit(True)
    try:
        with connection.cursor() as cursor:
            for table in ("customer", "product", "booking"):
                cursor.execute(f'VACUUM ANALYZE "ws_{int(workspace.pk)}"."{table}"')
    finally:
        connection.set_autocommit(raw_autocommit)


def run(workspace, args) -> None:
    schema = f'"ws_{int(workspace.pk)}"'
    for case, (definition, hand_sql) in CASES.items():
        checked = check_definition(workspace=workspace, definition=definition)
        compiler = Compiler(checked.schema, timezone.now())
        # The hand-written queries get the same moments the compiler computes.
        params = {"now": compiler.local_now, "year_ago": compiler.local_now - datetime.timedelta(days=365),
                  "today": compiler.today, "week": compiler.today + datetime.timedelta(days=7)}
        ours_s, ours_n = _timed(lambda checked=checked: selectors.count(definition=checked).count, args.repeat)
        query = hand_sql.format(s=schema)
        settings = selectors.count(definition=checked).settings or {}
        hand_s, hand_n = _timed(lambda q=query, p=params, st=settings: _hand(q, p, st), args.repeat)
        emit("audience", case, "s", ours_s, hand_s, count=ours_n, hand_count=hand_n, same=ours_n == hand_n,
             settings=settings,
             profiles=args.profiles if not args.workspace else None, under_1_5s=ours_s < 1.5)
