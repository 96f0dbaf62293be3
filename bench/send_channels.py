"""`bench send --case sms` and `--case push` (unit messages/s), not part of `all`.

Ours: a live delivery of N messages sent by a real Celery worker (P pool processes, P
sending tasks, on a queue of its own) through `send_some`: claims, rendering, the send
policy's last check, the provider's SDK, one ledger update per message. SMS goes through
the Twilio SDK to bench/smsgateway.py, push through pywebpush (RFC 8291 encryption, a
VAPID signature) to the Web Push service of bench/pushsink.py; each server runs in its
own process. The worker is warmed by a small delivery first (a running worker is warm);
the clock runs from publishing the tasks to the delivery being done.

Raw: the same SDK called in a plain loop (Twilio `messages.create`, pywebpush `webpush`)
by P processes with a keep-alive session each, sending as many messages of the same size
to the same server (same numbers resp. the same subscriptions).

Printed beside them: the CPU seconds of our worker processes and of the raw processes,
and of the server process during each side. BENCH_PROFILE=1: one worker's work (one
`send_some` in this process, 20 s at most) under cProfile instead."""

from __future__ import annotations

import multiprocessing
import os
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection, connections
from psycopg import sql

from apps.channels import sending
from apps.channels.models import ChannelConfig, Delivery, Message
from apps.core.sqlutil import render as render_sql
from apps.core.sqlutil import workspace_schema
from bench.common import emit
from bench.send_child import child_raw_push, child_raw_sms

SMS_ACCOUNT, SMS_TOKEN, SMS_SENDER = "AC" + "0123456789abcdef" * 2, "bench-token", "+14155550100"
SMS_CONTENT = {"text": "Hi {{ profile.first_name }}, your {{ profile.loyalty_tier }} offers for {{ profile.city }} "
                       "are ready. Reply STOP to opt out."}
PUSH_CONTENT = {"title": "{{ profile.first_name }}, your next trip", "text": "Offers for {{ profile.city }}, "
                "picked for you", "url": "https://travel.test/offers?c={{ profile.country }}",
                "image_url": "https://travel.test/img/spring.jpg"}
BROWSER_KEYS = 64  # distinct browser key pairs the subscriptions cycle through (encryption costs the same)
WARM_PER_WORKER = 20


# --- processes ------------------------------------------------------------------------------


def cpu_seconds(pids: list[int]) -> float:
    """user + system CPU time of the processes (0 for one that is gone)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _server(module: str, *args: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", module, "0", *args], stdout=subprocess.PIPE,
                            cwd=settings.BASE_DIR)
    return proc, int(proc.stdout.readline())


def database_url() -> str:
    """The URL of the database this process uses (the worker must see what we commit)."""
    from urllib.parse import quote

    s = connection.settings_dict
    auth = quote(s["USER"] or "") + (":" + quote(s["PASSWORD"]) if s.get("PASSWORD") else "")
    host, port = s.get("HOST") or "", s.get("PORT") or ""
    if host.startswith("/"):
        return f"postgresql://{auth}@/{quote(s['NAME'])}?host={quote(host, safe='/')}" + (
            f"&port={port}" if port else "")
    return f"postgresql://{auth}@{host}{':' + str(port) if port else ''}/{quote(s['NAME'])}"


# The servers are on loopback over plain http: allowed in the worker (and in this process
# when profiling), as the test settings allow them.
LOOPBACK_SETTINGS = {"PUSH_WEB_ENDPOINT_HOSTS": "127.0.0.1", "PUSH_WEB_ALLOW_HTTP": "1",
                     "SMS_BASE_URL_HOSTS": "127.0.0.1", "PUSH_BASE_URL_HOSTS": "127.0.0.1",
                     "CHANNEL_SMTP_ALLOW_PRIVATE_HOSTS": "1"}


class Worker:
    """A Celery worker (prefork, P processes) on a queue of its own, without DEBUG."""

    def __init__(self, processes: int):
        self.queue = f"bench-send-{os.getpid()}-{secrets.token_hex(3)}"
        env = dict(os.environ, DATABASE_URL=database_url(), REDIS_URL=settings.REDIS_URL, DJANGO_DEBUG="0",
                   CELERY_TASK_DEFAULT_QUEUE=self.queue, **LOOPBACK_SETTINGS)
        env.setdefault("DJANGO_SETTINGS_MODULE", os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.local"))
        self.name = f"{self.queue}@%h"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "warning", "-P", "prefork",
             "--concurrency", str(processes), "-Q", self.queue, "-n", self.name, "--without-gossip",
             "--without-mingle", "--without-heartbeat"], env=env, cwd=settings.BASE_DIR)
        self._wait()

    def _wait(self) -> None:
        from config.celery import app

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the bench worker exited with {self.proc.returncode}")
            replies = app.control.ping(timeout=0.5) or []
            if any(name.startswith(self.queue) for r in replies for name in r):
                return
        raise RuntimeError("the bench worker did not answer within 60 s")

    def pids(self) -> list[int]:
        return [self.proc.pid, *_children(self.proc.pid)]

    def send(self, delivery: Delivery, tasks: int, timeout: float) -> float:
        """Publish the delivery's sending tasks; seconds until the delivery is done."""
        from apps.channels.tasks import send_delivery

        started = time.perf_counter()
        for _ in range(tasks):
            send_delivery.apply_async(args=[delivery.pk], queue=self.queue)
        while Delivery.objects.filter(pk=delivery.pk).values_list("status", flat=True).get() == "sending":
            if time.perf_counter() - started > timeout or self.proc.poll() is not None:
                raise RuntimeError(f"delivery {delivery.pk} not done: {_statuses(delivery)}")
            time.sleep(0.02)
        return time.perf_counter() - started

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _statuses(delivery: Delivery) -> dict[str, int]:
    from django.db.models import Count

    return dict(Message.objects.filter(delivery=delivery).values_list("status").annotate(n=Count("id")))


# --- the deliveries ---------------------------------------------------------------------------


def _work_table(workspace, name: str, limit: int, offset: int = 0) -> str:
    schema = workspace_schema(workspace.pk)
    with connection.cursor() as cursor:
        cursor.execute(render_sql(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, name))))
        cursor.execute(render_sql(sql.SQL(
            "CREATE UNLOGGED TABLE {} AS SELECT customer_id AS key FROM {} ORDER BY customer_id "
            "LIMIT %s OFFSET %s").format(sql.Identifier(schema, name), sql.Identifier(schema, "customer"))),
            [limit, offset])
        cursor.execute(render_sql(sql.SQL("ANALYZE {}").format(sql.Identifier(schema, name))))
    return name


def _deliveries(workspace, channel: str, content: dict, n: int, workers: int):
    """(warm-up delivery, measured delivery): the first WARM_PER_WORKER x P recipients, then N others."""
    from bench.send import _delivery

    warm = _delivery(workspace, _work_table(workspace, f"bench_{channel}_warm", WARM_PER_WORKER * workers), content,
                     channel=channel)
    measured = _delivery(workspace, _work_table(workspace, f"bench_{channel}", n, WARM_PER_WORKER * workers), content,
                         channel=channel)
    return warm, measured


def _profile(delivery: Delivery, name: str) -> None:
    import cProfile
    import pstats

    settings.DEBUG = False  # as in the worker: no query log, the loopback servers allowed
    for setting, value in LOOPBACK_SETTINGS.items():
        setattr(settings, setting, ["127.0.0.1"] if value == "127.0.0.1" else True)
    path = os.path.join(tempfile.gettempdir(), f"bench-{name}.prof")
    cProfile.runctx("sending.send_some(delivery.pk, budget=20)", globals(), {"delivery": delivery}, path)
    pstats.Stats(path).sort_stats("tottime").print_stats(25)


def _ours(delivery: Delivery, warm: Delivery, workers: int, server: subprocess.Popen) -> dict:
    connections.close_all()
    worker = Worker(workers)
    try:
        worker.send(warm, workers, timeout=120)
        before, server_before = cpu_seconds(worker.pids()), cpu_seconds([server.pid])
        seconds = worker.send(delivery, workers, timeout=max(300.0, delivery.counts["queued"] / 20))
        return {"s": seconds, "cpu": cpu_seconds(worker.pids()) - before,
                "server_cpu": cpu_seconds([server.pid]) - server_before}
    finally:
        worker.stop()


def _raw(target, shares: list[tuple], server: subprocess.Popen) -> dict:
    """P spawned processes, each set up and connected before the clock starts."""
    context = multiprocessing.get_context("spawn")
    ready, go, results = context.Semaphore(0), context.Event(), context.Queue()
    procs = [context.Process(target=target, args=(*share, ready, go, results)) for share in shares]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.acquire()
    server_before = cpu_seconds([server.pid])
    started = time.perf_counter()
    go.set()
    cpu = sum(results.get(timeout=600) for _ in procs)
    seconds = time.perf_counter() - started
    server_cpu = cpu_seconds([server.pid]) - server_before
    for proc in procs:
        proc.join()
    return {"s": seconds, "cpu": cpu, "server_cpu": server_cpu}


def _both(target, shares: list[tuple], delivery: Delivery, warm: Delivery, workers: int,
          server: subprocess.Popen) -> tuple[dict, dict]:
    """Ours, between the two halves of the raw loop: a change of the machine's load during
    the run weighs on both sides alike."""
    first = _raw(target, [_half(share, 0) for share in shares], server)
    ours = _ours(delivery, warm, workers, server)
    second = _raw(target, [_half(share, 1) for share in shares], server)
    return ours, {k: first[k] + second[k] for k in first}


def _half(share: tuple, which: int) -> tuple:
    """The share with the first or second half of its messages (the list in it)."""
    at = next(i for i, value in enumerate(share) if isinstance(value, list))
    items = share[at]
    part = items[: len(items) // 2] if which == 0 else items[len(items) // 2:]
    return (*share[:at], part, *share[at + 1:])


def _report(case: str, delivery: Delivery, ours: dict, raw: dict, workers: int, **details) -> None:
    queued = delivery.counts["queued"]
    sent = Message.objects.filter(delivery=delivery, status="sent").count()
    ratio = (sent / ours["s"]) / (queued / raw["s"])
    emit("send", case, "messages/s", sent / ours["s"], queued / raw["s"], messages=queued, sent=sent,
         workers=workers, ours_s=round(ours["s"], 2), raw_s=round(raw["s"], 2), ours_cpu_s=round(ours["cpu"], 2),
         raw_cpu_s=round(raw["cpu"], 2), server_cpu_ours_s=round(ours["server_cpu"], 2),
         server_cpu_raw_s=round(raw["server_cpu"], 2), at_least_0_8=ratio >= 0.8, **details)


def _cleanup(*deliveries: Delivery) -> None:
    for delivery in deliveries:
        Message.objects.filter(delivery=delivery).delete()
        delivery.delete()


def _split(items: list, parts: int) -> list[list]:
    return [items[i::parts] for i in range(parts)]


def case_sms(workspace, n: int, workers: int) -> None:
    with _publishing_ourselves():
        _case_sms(workspace, n, workers)


def case_push(workspace, n: int, workers: int) -> None:
    with _publishing_ourselves():
        _case_push(workspace, n, workers)


@contextmanager
def _publishing_ourselves():
    """No task is published when a delivery is created: the bench publishes them itself,
    to its worker's queue (and this process's dispatch is put back afterwards)."""
    dispatch = sending.DISPATCH
    sending.DISPATCH = lambda _pk: None
    try:
        yield
    finally:
        sending.DISPATCH = dispatch


# --- SMS --------------------------------------------------------------------------------------


def _case_sms(workspace, n: int, workers: int) -> None:
    server, port = _server("bench.smsgateway", SMS_ACCOUNT, SMS_TOKEN)
    base_url = f"http://127.0.0.1:{port}"
    try:
        config = ChannelConfig(workspace=workspace, channel="sms", backend="twilio", chunk_size=200,
                               parallel_tasks=workers, options={"account": SMS_ACCOUNT, "sender": SMS_SENDER,
                                                                "sender_kind": "number", "base_url": base_url})
        config.secret = SMS_TOKEN
        ChannelConfig.objects.filter(workspace=workspace, channel="sms").delete()
        config.save()
        _phones(workspace, n + WARM_PER_WORKER * workers)
        warm, delivery = _deliveries(workspace, "sms", SMS_CONTENT, n, workers)
        if os.environ.get("BENCH_PROFILE"):
            _profile(delivery, "sms")
            return
        numbers = list(Message.objects.filter(delivery=delivery, status="queued").values_list("address", flat=True))
        text = _sample(delivery, SMS_CONTENT)["text"]
        shares = [(base_url, SMS_ACCOUNT, SMS_TOKEN, SMS_SENDER, share, text) for share in _split(numbers, workers)]
        ours, raw = _both(child_raw_sms, shares, delivery, warm, workers, server)
        _report("sms", delivery, ours, raw, workers, sdk="twilio", text_chars=len(text))
        _cleanup(warm, delivery)
    finally:
        server.kill()
        server.wait()


def _phones(workspace, count: int) -> None:
    """Valid mobile numbers (UK, 07 91x) for the first `count` customers (the demo's are not
    all assigned numbers), in one statement."""
    with connection.cursor() as cursor:
        cursor.execute(render_sql(sql.SQL(
            "UPDATE {} SET phone = '+44791' || lpad(customer_id::text, 7, '0') WHERE customer_id <= %s").format(
            sql.Identifier(workspace_schema(workspace.pk), "customer"))), [count])


def _sample(delivery: Delivery, content: dict) -> dict:
    """One message's rendered fields, as our path renders them."""
    from apps.channels.personalization import Renderer

    message = Message.objects.filter(delivery=delivery, status="queued").first()
    Message.objects.filter(pk=message.pk).update(status="sending")
    row = sending.RowLoader(delivery).load([message.pk])[0]
    Message.objects.filter(pk=message.pk).update(status="queued")
    return Renderer(delivery.channel, content).render(sending.context_for(delivery, row,
                                                                          sending._base_context(delivery)))


# --- push -------------------------------------------------------------------------------------


def _browser_keys() -> list[dict[str, str]]:
    import base64

    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return [{"p256dh": b64(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.X962, PublicFormat.UncompressedPoint)), "auth": b64(os.urandom(16))} for _ in range(BROWSER_KEYS)]


def _subscribe(workspace, endpoint: str, count: int) -> None:
    """One Web Push subscription for each of the first `count` customers, in one statement."""
    import json

    from apps.channels.models import PushSubscription

    PushSubscription.objects.filter(workspace=workspace).delete()
    keys = [json.dumps(k) for k in _browser_keys()]
    with connection.cursor() as cursor:
        cursor.execute(render_sql(sql.SQL(
            "INSERT INTO {t} (workspace_id, profile_key, platform, token, keys, app_id, created_at, last_seen_at, "
            "active, deactivated_reason) SELECT %(ws)s, c.customer_id::text, 'web', %(endpoint)s || c.customer_id, "
            "(%(keys)s::jsonb[])[1 + c.customer_id %% %(nkeys)s], '', now(), now(), true, '' "
            "FROM (SELECT customer_id FROM {c} ORDER BY customer_id LIMIT %(count)s) c").format(
            t=sql.Identifier(PushSubscription._meta.db_table),
            c=sql.Identifier(workspace_schema(workspace.pk), "customer"))),
            {"ws": workspace.pk, "endpoint": endpoint, "keys": keys, "nkeys": len(keys), "count": count})


def _case_push(workspace, n: int, workers: int) -> None:
    from apps.channels import push_config
    from apps.channels.models import PushSubscription

    server, port = _server("bench.pushsink")
    url = f"http://127.0.0.1:{port}"
    try:
        push_config.push_config_save(workspace=workspace, actor=None, generate_vapid=True,
                                     options={"vapid_subject": "mailto:ops@travel.test"})
        config = ChannelConfig.objects.get(workspace=workspace, channel="push")
        ChannelConfig.objects.filter(pk=config.pk).update(chunk_size=200, parallel_tasks=workers)
        _subscribe(workspace, f"{url}/push/", n + WARM_PER_WORKER * workers)
        warm, delivery = _deliveries(workspace, "push", PUSH_CONTENT, n, workers)
        if os.environ.get("BENCH_PROFILE"):
            _profile(delivery, "push")
            return
        ids = [int(a) for a in Message.objects.filter(delivery=delivery, status="queued").values_list("address",
                                                                                                      flat=True)]
        subs = list(PushSubscription.objects.filter(pk__in=ids).values_list("token", "keys"))
        fields = _sample(delivery, PUSH_CONTENT)
        payload = {"title": fields.get("title", ""), "body": fields.get("text", ""), "url": fields.get("url", ""),
                   "image": fields.get("image_url", ""), "data": {}, "tag": "",
                   "message_id": sending.message_id(delivery, 10**9)}
        vapid_pem = push_config.secrets_of(config)["vapid_private_key"]
        shares = [(share, payload, vapid_pem, "mailto:ops@travel.test") for share in _split(subs, workers)]
        ours, raw = _both(child_raw_push, shares, delivery, warm, workers, server)
        _report("push", delivery, ours, raw, workers, sdk="pywebpush", devices=len(subs))
        _cleanup(warm, delivery)
        PushSubscription.objects.filter(workspace=workspace).delete()
    finally:
        server.kill()
        server.wait()

