"""python manage.py bench send [--messages N] [--create N] [--workers P] [--case ...]

On the travel demo data (a scratch workspace):

- `create` (unit s): message rows for `--create` recipients (default 1,000,000) created
  the way a live channel activity does it (classification: no/invalid/duplicate address,
  then one INSERT ... SELECT into the ledger), beside the same rows inserted by a bare
  INSERT ... SELECT of key and address into a table of the same shape with no checks
  and no indexes, in the same run. The issue's bar: under 15 s at 1M.
- `render` (unit emails/s, one core): our per-message rendering (context from the
  loaded rows, subject + HTML + text with the Jinja2 sandbox, links through the click
  redirect and the open pixel) beside the Jinja2 sandbox alone rendering the same HTML
  template with the same rows. The bar: at least 20,000/s.
- `email` (unit messages/s): from a delivery of N queued messages to all accepted by an
  SMTP sink on loopback (aiosmtpd, its own process), through `send_some` in P worker
  processes (claims, rendering, MIME, SMTP, ledger updates), beside a raw loop of
  smtplib sends of equally sized messages to the same sink over P connections. The bar:
  at least 0.8x at N = 20,000.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import time

from django.db import connection, connections, transaction
from psycopg import sql

from apps.channels import ledger, sending, services
from apps.channels.models import ChannelConfig, Delivery, Message
from apps.channels.personalization import HTML_ENV, Renderer
from apps.core.sqlutil import render as render_sql
from apps.core.sqlutil import workspace_schema
from apps.datamodel.schema import Schema
from apps.demo.generate import generate
from bench.audience import _vacuum
from bench.common import emit, scratch_workspace
from bench.send_child import child_raw, child_send

CONTENT = {
    "from_email": "news@travel.test", "from_name": "Travel News",
    "subject": "{{ profile.first_name }}, your next trip to {{ profile.country }}",
    "preheader": "Offers picked for you",
    "html": """<html><body>
<p>Dear {{ profile.first_name|default('traveller') }} {{ profile.last_name }},</p>
<p>As a {{ profile.loyalty_tier }} member living in {{ profile.city }}, you get early access to our spring offers.</p>
{% if profile.loyalty_tier in ('gold', 'platinum') %}<p>Your lounge pass is waiting for you.</p>{% endif %}
<p><a href="https://travel.test/offers?c={{ profile.country }}&amp;id={{ profile.customer_id }}">See your offers</a></p>
<p><a href="https://travel.test/account">Your account</a></p>
<p>See you soon,<br>The Travel team</p>
</body></html>""",
}


def _work_table(workspace, name: str, limit: int) -> str:
    schema = workspace_schema(workspace.pk)
    with connection.cursor() as cursor:
        cursor.execute(render_sql(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, name))))
        cursor.execute(render_sql(sql.SQL(
            "CREATE UNLOGGED TABLE {} AS SELECT customer_id AS key FROM {} ORDER BY customer_id LIMIT %s").format(
            sql.Identifier(schema, name), sql.Identifier(schema, "customer"))), [limit])
        cursor.execute(render_sql(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, name))))
    return name


def _delivery(workspace, table: str, content=None, channel: str = "email") -> Delivery:
    """As a live channel activity does it: classify into a scratch table, then the
    delivery and its messages in one INSERT ... SELECT."""
    schema = Schema.load(workspace)
    # No topic nor caps here (bench exclusions measures those): the address checks only.
    settings = {"category": "transactional"}
    audience = ledger.audience_for(workspace, schema, channel, schema.entities["customer"], settings)
    scratch = sql.Identifier(workspace_schema(workspace.pk), f"{table}_classified")

    def execute(query, params=None):
        with connection.cursor() as cursor:
            cursor.execute(render_sql(query), params)

    options = services.delivery_options(audience, settings, table, [], {})
    with transaction.atomic():
        ledger.classify_into(audience, sql.Identifier(workspace_schema(workspace.pk), table), scratch, execute)
        delivery = services.delivery_create(
            workspace=workspace, channel=channel, name="bench", content=content or CONTENT, options=options,
            classified=sql.SQL("SELECT target_key, profile_key, address, reason, defer_until FROM {}").format(scratch))
        execute(sql.SQL("DROP TABLE {}").format(scratch))
    return delivery


def case_create(workspace, n: int) -> None:
    table = _work_table(workspace, "bench_create", n)
    sending.DISPATCH = lambda _pk: None  # nothing is sent in this case
    started = time.perf_counter()
    delivery = _delivery(workspace, table)
    ours = time.perf_counter() - started
    schema = workspace_schema(workspace.pk)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bare_messages (LIKE channels_message INCLUDING DEFAULTS)")
        started = time.perf_counter()
        cursor.execute(render_sql(sql.SQL(
            "INSERT INTO bare_messages (id, workspace_id, delivery_id, profile_key, target_key, address, status, "
            "reason, attempts, provider_id, error) SELECT row_number() OVER (), %s, %s, w.key::text, w.key::text, "
            "c.email, 'queued', '', 0, '', '' FROM {} w JOIN {} c ON c.customer_id = w.key").format(
            sql.Identifier(schema, table), sql.Identifier(schema, "customer"))), [workspace.pk, delivery.pk])
        baseline = time.perf_counter() - started
        cursor.execute("DROP TABLE bare_messages")
    emit("send", "create", "s", ours, baseline, recipients=n, queued=delivery.counts["queued"],
         excluded=delivery.counts["excluded"], under_15s=ours < 15)
    Message.objects.filter(delivery=delivery).delete()
    delivery.delete()


def case_render(workspace, n: int) -> None:
    table = _work_table(workspace, "bench_render", n)
    sending.DISPATCH = lambda _pk: None
    delivery = _delivery(workspace, table)
    ids = list(Message.objects.filter(delivery=delivery, status="queued").values_list("id", flat=True))
    Message.objects.filter(pk__in=ids).update(status="sending")
    rows = []
    loader = sending.RowLoader(delivery)
    for start in range(0, len(ids), 5000):
        rows += loader.load(ids[start:start + 5000])
    renderer = Renderer("email", delivery.content)
    base = sending._base_context(delivery)
    from apps.channels import tracking

    tracker = tracking.Tracker(tracking.base_url(None))

    def ours_loop():
        for row in rows:
            ctx = sending.context_for(delivery, row, base)
            fields = renderer.render(ctx)
            fields["html"] = tracker.rewrite(fields["html"], row["id"])

    if os.environ.get("BENCH_PARTS"):
        for label, fn in [("context", lambda: [sending.context_for(delivery, r, base) for r in rows])]:
            started = time.perf_counter()
            contexts = fn()
            sys.stdout.write(f"{label} {1e6 * (time.perf_counter() - started) / len(rows):.1f} us\n")
        started = time.perf_counter()
        rendered = [renderer.render(c) for c in contexts]
        sys.stdout.write(f"render {1e6 * (time.perf_counter() - started) / len(rows):.1f} us\n")
        started = time.perf_counter()
        for r, f in zip(rows, rendered, strict=True):
            tracker.rewrite(f["html"], r["id"])
        sys.stdout.write(f"rewrite {1e6 * (time.perf_counter() - started) / len(rows):.1f} us\n")
    if os.environ.get("BENCH_PROFILE"):
        import cProfile
        import pstats

        cProfile.runctx("ours_loop()", globals(), locals(), "/tmp/bench-render.prof")
        pstats.Stats("/tmp/bench-render.prof").sort_stats("tottime").print_stats(15)
    started = time.perf_counter()
    ours_loop()
    ours = len(rows) / (time.perf_counter() - started)
    template = HTML_ENV.from_string(CONTENT["html"])
    started = time.perf_counter()
    for row in rows:
        template.render(profile=row["profile"])
    baseline = len(rows) / (time.perf_counter() - started)
    emit("send", "render", "emails/s", ours, baseline, messages=len(rows), per_core=True,
         at_least_20k=ours >= 20000)
    Message.objects.filter(delivery=delivery).delete()
    delivery.delete()


def _start_sink(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "bench.smtpsink", str(port)], stdout=subprocess.PIPE,
                            cwd=os.getcwd())
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def case_email(workspace, n: int, workers: int) -> None:
    from bench.smtpsink import _free_port

    port = _free_port()
    sink = _start_sink(port)
    try:
        ChannelConfig.objects.update_or_create(workspace=workspace, channel="email", defaults={
            "backend": "smtp", "options": {"host": "127.0.0.1", "port": port}, "from_email": "news@travel.test",
            "chunk_size": 200, "parallel_tasks": workers})
        table = _work_table(workspace, "bench_email", n)
        sending.DISPATCH = lambda _pk: None
        delivery = _delivery(workspace, table)
        queued = delivery.counts["queued"]
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            cProfile.runctx("sending.send_some(delivery.pk, budget=20)", globals(), locals(), "/tmp/bench-email.prof")
            pstats.Stats("/tmp/bench-email.prof").sort_stats("tottime").print_stats(20)
            return
        connections.close_all()
        context = multiprocessing.get_context("spawn")
        ready, go = context.Semaphore(0), context.Event()
        procs = [context.Process(target=child_send, args=(delivery.pk, ready, go)) for _ in range(workers)]
        for proc in procs:
            proc.start()
        for _ in procs:  # timing starts when every process is set up and connected
            ready.acquire()
        started = time.perf_counter()
        go.set()
        for proc in procs:
            proc.join()
        ours_s = time.perf_counter() - started
        sent = Message.objects.filter(delivery=delivery, status="sent").count()
        # One of our messages, as sent, sizes the raw loop's payload.
        sample = Message.objects.filter(delivery=delivery, status="sent").first()
        size = _sample_size(delivery, sample)
        payload = (b"From: news@travel.test\r\nTo: someone@example.test\r\nSubject: raw\r\n\r\n" +
                   b"x" * 76 + b"\r\n") * (size // 78 + 1)
        per = queued // workers
        started = time.perf_counter()
        procs = [context.Process(target=child_raw, args=(port, per + (1 if i < queued % workers else 0), payload))
                 for i in range(workers)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        raw_s = time.perf_counter() - started
        emit("send", "email", "messages/s", sent / ours_s, queued / raw_s, messages=queued, sent=sent,
             workers=workers, connections=workers, message_bytes=size, ours_s=round(ours_s, 2),
             raw_s=round(raw_s, 2), at_least_0_8=(sent / ours_s) / (queued / raw_s) >= 0.8)
        Message.objects.filter(delivery=delivery).delete()
        delivery.delete()
    finally:
        sink.kill()
        sink.wait()


def _sample_size(delivery, message) -> int:
    from apps.channels.providers import Outgoing
    from apps.channels.providers.email import EmailProvider

    Message.objects.filter(pk=message.pk).update(status="sending")
    row = sending.RowLoader(delivery).load([message.pk])[0]
    Message.objects.filter(pk=message.pk).update(status="sent")
    ctx = sending.context_for(delivery, row, sending._base_context(delivery))
    fields = Renderer("email", delivery.content).render(ctx)
    provider = EmailProvider(delivery, None)
    email = provider.build(Outgoing(id=row["id"], address=row["address"], message_id=sending.message_id(
        delivery, row["id"]), fields=fields, context=ctx))
    return len(email.message().as_bytes())


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="manage.py bench send")
    parser.add_argument("--messages", type=int, default=20_000, help="email, sms, push and render: recipients")
    parser.add_argument("--create", type=int, default=1_000_000, help="create: recipients")
    parser.add_argument("--workers", type=int, default=2,
                        help="email, sms, push: sending processes (and raw connections)")
    # sms and push start a Celery worker and servers of their own: not part of `all`
    parser.add_argument("--case", choices=["all", "create", "render", "email", "sms", "push"], default="all")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--workspace", help="reuse a workspace kept by an earlier run (--keep)")
    args = parser.parse_args(argv)
    profiles = max(args.create if args.case in ("all", "create") else 0, args.messages)
    if args.case in ("sms", "push"):
        from bench.send_channels import WARM_PER_WORKER

        profiles = max(profiles, args.messages + WARM_PER_WORKER * args.workers)  # a warm-up delivery first
    if args.workspace:
        from apps.tenants.models import Workspace

        run_cases(Workspace.objects.get(slug=args.workspace), args)
        return
    with scratch_workspace("bench-send", keep=args.keep) as workspace:
        generate(workspace=workspace, profiles=profiles)
        _vacuum(workspace)
        run_cases(workspace, args)


def run_cases(workspace, args) -> None:
    from apps.consent.models import Suppression

    Suppression.objects.filter(workspace=workspace).delete()  # left by a bench exclusions run in a kept workspace
    if args.case in ("all", "create"):
        case_create(workspace, args.create)
    if args.case in ("all", "render"):
        case_render(workspace, args.messages)
    if args.case in ("all", "email"):
        case_email(workspace, args.messages, args.workers)
    if args.case in ("sms", "push"):
        from bench import send_channels

        getattr(send_channels, f"case_{args.case}")(workspace, args.messages, args.workers)
