"""The executor and the targeting activities on small data with exact keys."""

import pytest
from django.db import connection

from apps.campaigns import executor
from apps.campaigns.graph import GraphError, check_graph
from apps.campaigns.models import ActivityRun, Campaign, CampaignVersion, Run
from tests.factories import make_travel_model
from tests.waiting import wait_for


def make_campaign(workspace, nodes, edges, name="Spring"):
    campaign = Campaign.objects.create(workspace=workspace, name=name)
    version = CampaignVersion.objects.create(workspace=workspace, campaign=campaign, number=1,
                                             definition={"nodes": nodes, "edges": edges})
    return campaign, version


def keys(run, node_id, outlet="out"):
    activity = ActivityRun.objects.get(run=run, node_id=node_id)
    table = activity.outlets[outlet]["table"]
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT key FROM "ws_{run.workspace_id}"."{table}" ORDER BY key')
        return [row[0] for row in cursor.fetchall()]


def start():
    return {"id": "start", "type": "start"}


def build(node_id, rule, entity="customer"):
    return {"id": node_id, "type": "build_audience", "settings": {"definition": {"entity": entity, "rule": rule}}}


def edge(src, dst, outlet="out"):
    return {"from": src, "outlet": outlet, "to": dst}


def test_a_test_run_goes_through_split_and_a_channel_with_exact_keys(workspace, travel, queue):
    nodes = [start(), build("everyone", {"attr": "customer_id", "op": "gte", "value": 1}),
             {"id": "tiers", "type": "split", "settings": {"subsets": [
                 {"name": "gold", "rule": {"attr": "loyalty_tier", "op": "eq", "value": "gold"}}], "complement": True}},
             {"id": "mail", "type": "email", "settings": {}}, {"id": "end", "type": "end"},
             {"id": "end2", "type": "end"}]
    edges = [edge("start", "everyone"), edge("everyone", "tiers"), edge("tiers", "mail", "gold"),
             edge("tiers", "end2", "others"), edge("mail", "end")]
    campaign, version = make_campaign(workspace, nodes, edges)
    run = executor.run_create(campaign=campaign, version=version)
    assert queue() == 6
    run.refresh_from_db()
    assert run.status == "done", list(ActivityRun.objects.filter(run=run).values("node_id", "status", "error"))
    assert keys(run, "everyone") == [1, 2, 3]
    assert keys(run, "tiers", "gold") == [1]
    assert keys(run, "tiers", "others") == [2, 3]
    mail = ActivityRun.objects.get(run=run, node_id="mail")
    assert mail.report == {"channel": "email", "recipients": 1, "excluded": {}, "test_mode": True, "per_row": False,
                           "profile": "customer"}
    assert mail.rows_in == 1 and mail.rows_out == 1


def test_a_duplicated_dispatch_runs_an_activity_once(workspace, travel, queue, monkeypatch):
    nodes = [start(), build("nl", {"attr": "country", "op": "eq", "value": "NL"}), {"id": "end", "type": "end"}]
    campaign, version = make_campaign(workspace, nodes, [edge("start", "nl"), edge("nl", "end")])
    run = executor.run_create(campaign=campaign, version=version)
    start_id = ActivityRun.objects.get(run=run, node_id="start").pk
    assert executor.activity_execute(activity_run_id=start_id) is not None
    assert executor.activity_execute(activity_run_id=start_id) is None  # the duplicate finds it claimed
    queue()
    assert ActivityRun.objects.get(run=run, node_id="nl").attempts == 1
    assert Run.objects.get(pk=run.pk).status == "done"


def test_combine_exclusion_fork_and_join(workspace, travel, queue):
    nodes = [start(), build("all_c", {"attr": "customer_id", "op": "gte", "value": 1}),
             build("bookers", {"related": "bookings", "exists": True}),
             {"id": "minus", "type": "combine", "settings": {"operation": "exclusion"}},
             {"id": "both", "type": "combine", "settings": {"operation": "intersection"}},
             {"id": "fork", "type": "fork", "settings": {"branches": 2}},
             {"id": "join", "type": "and_join"}, {"id": "end", "type": "end"}, {"id": "end2", "type": "end"}]
    edges = [edge("start", "all_c"), edge("start", "bookers"), edge("all_c", "fork"),
             edge("fork", "minus", "branch1"), edge("bookers", "minus"), edge("fork", "join", "branch2"),
             edge("minus", "join"), edge("join", "both"), edge("both", "end")]
    with pytest.raises(GraphError) as exc:
        check_graph(workspace=workspace, definition={"nodes": nodes, "edges": edges})
    assert "both: Combine takes 2 or more input(s); it has 1." in exc.value.messages
    assert "end2: is not connected to the Start." in exc.value.messages
    nodes = [n for n in nodes if n["id"] not in ("both", "end2")]
    edges = [e for e in edges if "both" not in (e["from"], e["to"])] + [edge("join", "end")]
    campaign, version = make_campaign(workspace, nodes, edges)
    run = executor.run_create(campaign=campaign, version=version)
    queue()
    assert Run.objects.get(pk=run.pk).status == "done"
    assert keys(run, "bookers") == [1, 2]
    assert keys(run, "minus") == [3]
    assert keys(run, "join") == [1, 2, 3]  # the primary input continues


def test_change_dimension_and_deduplication(workspace, travel, queue):
    nodes = [start(), build("ski", {"attr": "product.category", "op": "eq", "value": "ski"}, entity="booking"),
             {"id": "people", "type": "change_dimension", "settings": {"path": ["customer"]}},
             {"id": "dedup", "type": "deduplicate", "settings": {"fields": ["country"]}},
             {"id": "end", "type": "end"}, {"id": "end2", "type": "end"}]
    edges = [edge("start", "ski"), edge("ski", "people"), edge("people", "dedup"), edge("dedup", "end"),
             edge("dedup", "end2", "duplicates")]
    campaign, version = make_campaign(workspace, nodes, edges)
    run = executor.run_create(campaign=campaign, version=version)
    queue()
    assert Run.objects.get(pk=run.pk).status == "done"
    assert keys(run, "ski") == [1000, 1002]
    assert keys(run, "people") == [1, 2]
    assert keys(run, "dedup") == [1, 2]  # NL and DE: no duplicate
    assert keys(run, "dedup", "duplicates") == []


def test_a_live_run_stops_at_a_channel_without_content(workspace, travel, queue):
    nodes = [start(), build("nl", {"attr": "country", "op": "eq", "value": "NL"}),
             {"id": "mail", "type": "email"}, {"id": "end", "type": "end"}]
    campaign, version = make_campaign(workspace, nodes, [edge("start", "nl"), edge("nl", "mail"), edge("mail", "end")])
    run = executor.run_create(campaign=campaign, version=version, mode="live")
    queue()
    run.refresh_from_db()
    mail = ActivityRun.objects.get(run=run, node_id="mail")
    assert (run.status, mail.status) == ("failed", "failed")
    assert "subject: is required" in mail.error
    assert ActivityRun.objects.get(run=run, node_id="end").status == "skipped"


@pytest.mark.parametrize("definition,message", [
    ({"nodes": [start(), start() | {"id": "start2"}], "edges": []}, "a campaign has exactly one Start; this one has 2."),
    ({"nodes": [start(), {"id": "a", "type": "fork"}, {"id": "b", "type": "fork"}],
      "edges": [edge("start", "a"), edge("a", "b", "branch1"), edge("b", "a", "branch1")]}, "form a cycle"),
    ({"nodes": [start(), {"id": "x", "type": "teleport"}], "edges": []}, "unknown activity type 'teleport'"),
    ({"nodes": [start(), build("b", {"attr": "shoe", "op": "eq", "value": 1})], "edges": [edge("start", "b")]},
     "customer has no attribute 'shoe'"),
    ({"nodes": [start(), build("b", {"attr": "country", "op": "eq", "value": "NL"})], "edges": [edge("start", "b")]},
     "b: outlet 'out' leads nowhere"),
    ({"nodes": [start(), build("b", {"all": [{"attr": "country", "op": "eq", "value": "NL"},
                                             {"attr": "created_at", "op": "on", "value": "9999-12-31"}]}),
                {"id": "end", "type": "end"}], "edges": [edge("start", "b"), edge("b", "end")]},
     "b: rule.all[1].value: '9999-12-31' is out of range: dates go from 0001-01-02 to 9999-12-30."),
])
def test_publish_time_validation_names_the_activity(workspace, travel, definition, message):
    with pytest.raises(GraphError) as exc:
        check_graph(workspace=workspace, definition=definition)
    assert any(message in m for m in exc.value.messages), exc.value.messages


@pytest.mark.worker
def test_a_run_is_carried_through_by_a_real_worker(workspace, start_worker):
    import time

    from django.db import transaction

    with transaction.atomic():
        make_travel_model(workspace)
        nodes = [start(), build("nl", {"attr": "country", "op": "in", "value": ["NL", "DE"]}),
                 {"id": "tiers", "type": "split", "settings": {"subsets": [{"name": "first", "limit": 1}]}},
                 {"id": "end", "type": "end"}, {"id": "end2", "type": "end"}]
        edges = [edge("start", "nl"), edge("nl", "tiers"), edge("tiers", "end", "first"),
                 edge("tiers", "end2", "others")]
        campaign, version = make_campaign(workspace, nodes, edges)
    start_worker(concurrency=2)
    run = executor.run_create(campaign=campaign, version=version)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status != "running":
            break
        time.sleep(0.2)
    assert run.status == "done"
    assert keys(run, "nl") == [1, 2]
    assert len(keys(run, "tiers", "first")) == 1
    assert sorted(keys(run, "tiers", "first") + keys(run, "tiers", "others")) == [1, 2]


def test_a_wait_sleeps_in_the_database_and_the_timer_task_wakes_it(workspace, travel, queue):
    import datetime as dt

    from django.utils import timezone

    nodes = [start(), build("nl", {"attr": "country", "op": "eq", "value": "NL"}),
             {"id": "pause", "type": "wait", "settings": {"amount": 2, "unit": "hours"}},
             {"id": "end", "type": "end"}]
    campaign, version = make_campaign(workspace, nodes, [edge("start", "nl"), edge("nl", "pause"),
                                                         edge("pause", "end")])
    run = executor.run_create(campaign=campaign, version=version)
    queue()
    wait = ActivityRun.objects.get(run=run, node_id="pause")
    assert wait.status == "sleeping"
    assert abs((wait.wake_at - timezone.now()) - dt.timedelta(hours=2)) < dt.timedelta(minutes=1)
    assert Run.objects.get(pk=run.pk).status == "running"
    assert executor.timers_wake() == 0  # not yet
    # a sweep with a clock running ahead wakes it, but the Wait checks its time and sleeps again
    assert executor.timers_wake(now=wait.wake_at + dt.timedelta(seconds=1)) == 1
    queue()
    assert ActivityRun.objects.get(pk=wait.pk).status == "sleeping"
    ActivityRun.objects.filter(pk=wait.pk).update(wake_at=timezone.now() - dt.timedelta(seconds=1))
    assert executor.timers_wake() == 1
    assert executor.timers_wake() == 0  # a second sweep finds nothing
    queue()
    assert Run.objects.get(pk=run.pk).status == "done"
    assert keys(run, "pause") == [1]


def test_save_audience_writes_a_snapshot_in_live_runs_only(workspace, travel, queue):
    from apps.audiences.models import Audience

    nodes = [start(), build("nl", {"attr": "country", "op": "in", "value": ["NL", "DE"]}),
             {"id": "save", "type": "save_audience", "settings": {"name": "Campaign NL DE"}},
             {"id": "end", "type": "end"}]
    campaign, version = make_campaign(workspace, nodes, [edge("start", "nl"), edge("nl", "save"),
                                                         edge("save", "end")])
    test_run = executor.run_create(campaign=campaign, version=version)
    queue()
    assert ActivityRun.objects.get(run=test_run, node_id="save").report == {
        "would_save": 2, "audience": "Campaign NL DE", "saved": False}
    assert not Audience.objects.filter(name="Campaign NL DE").exists()
    live = executor.run_create(campaign=campaign, version=version, mode="live")
    queue()
    assert Run.objects.get(pk=live.pk).status == "done"
    audience = Audience.objects.get(workspace=workspace, name="Campaign NL DE")
    assert (audience.origin, audience.size, audience.entity.key) == ("snapshot", 2, "customer")


def test_enrichment_adds_columns_that_travel_through_a_split(workspace, travel, queue):
    nodes = [start(), build("all_c", {"attr": "customer_id", "op": "gte", "value": 1}),
             {"id": "enrich", "type": "enrichment", "settings": {
                 "attributes": [{"name": "land", "path": "country"}],
                 "aggregates": [{"name": "spent", "related": "bookings", "agg": "sum", "attr": "amount",
                                 "where": {"attr": "status", "op": "ne", "value": "cancelled"}},
                                {"name": "trips", "related": "bookings", "agg": "count"}],
                 "first": [{"name": "next", "related": "bookings", "order_by": "start_date",
                            "attributes": ["booking_id", "start_date"]}]}},
             {"id": "split", "type": "split", "settings": {"subsets": [
                 {"name": "big", "rule": {"related": "bookings", "agg": "sum", "attr": "amount", "op": "gt",
                                          "value": 1000}}]}},
             {"id": "end", "type": "end"}, {"id": "end2", "type": "end"}]
    edges = [edge("start", "all_c"), edge("all_c", "enrich"), edge("enrich", "split"), edge("split", "end", "big"),
             edge("split", "end2", "others")]
    campaign, version = make_campaign(workspace, nodes, edges)
    run = executor.run_create(campaign=campaign, version=version)
    queue()
    assert Run.objects.get(pk=run.pk).status == "done", list(
        ActivityRun.objects.filter(run=run).values_list("node_id", "error"))
    table = ActivityRun.objects.get(run=run, node_id="split").outlets["big"]["table"]
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT key, land, spent, trips, next__booking_id, next__start_date::text '
                       f'FROM "ws_{workspace.pk}"."{table}" ORDER BY key')
        rows = cursor.fetchall()
    from decimal import Decimal

    # anna: bookings 1000 (1250, 2025-01-10) and 1001 (640.50, 2024-08-01); ben: 1002 cancelled (1250)
    assert rows == [(1, "NL", Decimal("1890.50"), 2, 1001, "2024-08-01"),
                    (2, "DE", Decimal("0"), 1, 1002, "2025-02-01")]


@pytest.mark.worker
def test_a_run_survives_a_worker_killed_in_the_middle_of_an_activity(workspace, start_worker):
    import signal

    import psutil
    from django.db import transaction

    with transaction.atomic():
        make_travel_model(workspace)
        nodes = [start(), build("everyone", {"attr": "customer_id", "op": "gte", "value": 1}),
                 {"id": "slow", "type": "test_sleep", "settings": {"seconds": 4}}, {"id": "end", "type": "end"}]
        campaign, version = make_campaign(workspace, nodes, [edge("start", "everyone"), edge("everyone", "slow"),
                                                             edge("slow", "end")])
    worker = start_worker(concurrency=1, name="doomed@%h")
    run = executor.run_create(campaign=campaign, version=version)

    assert wait_for(lambda: ActivityRun.objects.get(run=run, node_id="slow").status == "running"), list(
        ActivityRun.objects.filter(run=run).values_list("node_id", "status", "error"))
    # when: the worker and its pool process die without a word
    family = [worker.pid, *[c.pid for c in psutil.Process(worker.pid).children(recursive=True)]]
    for pid in family:
        psutil.Process(pid).send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    slow = ActivityRun.objects.get(run=run, node_id="slow")
    assert slow.status == "running" and slow.outlets == {}  # its work was rolled back with the session
    # then: a new worker, and the sweeper hands it the orphaned activity
    start_worker(concurrency=1, name="heir@%h")
    assert wait_for(lambda: executor.stale_redispatch() >= 1, seconds=20)
    assert wait_for(lambda: Run.objects.get(pk=run.pk).status != "running"), list(
        ActivityRun.objects.filter(run=run).values_list("node_id", "status", "attempts", "error"))
    slow.refresh_from_db()
    assert (Run.objects.get(pk=run.pk).status, slow.status, slow.attempts) == ("done", "done", 2)
    assert keys(run, "slow") == [1, 2, 3]
    assert executor.stale_redispatch() == 0


def test_a_failed_activity_can_be_retried_and_the_run_goes_on(workspace, travel, queue):
    from apps.audiences.services import audience_create

    audience = audience_create(workspace=workspace, actor=None, name="Gold", definition={
        "entity": "customer", "rule": {"attr": "loyalty_tier", "op": "eq", "value": "gold"}})
    nodes = [start(), {"id": "gold", "type": "read_audience", "settings": {"audience": audience.pk}},
             {"id": "mail", "type": "email"}, {"id": "end", "type": "end"}]
    campaign, version = make_campaign(workspace, nodes, [edge("start", "gold"), edge("gold", "mail"),
                                                         edge("mail", "end")])
    run = executor.run_create(campaign=campaign, version=version)
    # the audience's rule goes bad between publishing and running (the attribute was dropped)
    type(audience).objects.filter(pk=audience.pk).update(definition={
        "entity": "customer", "rule": {"attr": "shoe_size", "op": "eq", "value": 44}})
    queue()
    run.refresh_from_db()
    assert run.status == "failed"
    assert [(a.node_id, a.status) for a in ActivityRun.objects.filter(run=run).order_by("id")] == [
        ("start", "done"), ("gold", "failed"), ("mail", "skipped"), ("end", "skipped")]
    assert "shoe_size" in ActivityRun.objects.get(run=run, node_id="gold").error
    # when it is fixed and retried
    type(audience).objects.filter(pk=audience.pk).update(definition={
        "entity": "customer", "rule": {"attr": "loyalty_tier", "op": "eq", "value": "gold"}})
    executor.activity_retry(run=run, node_id="gold")
    queue()
    run.refresh_from_db()
    assert run.status == "done"
    assert keys(run, "gold") == [1]
    assert ActivityRun.objects.get(run=run, node_id="gold").attempts == 2


def test_the_run_page_offers_a_retry_of_a_failed_activity(workspace, travel, queue, mallory, client_for):
    nodes = [start(), build("nl", {"attr": "country", "op": "eq", "value": "NL"}),
             {"id": "mail", "type": "email"}, {"id": "end", "type": "end"}]
    campaign, version = make_campaign(workspace, nodes, [edge("start", "nl"), edge("nl", "mail"), edge("mail", "end")])
    run = executor.run_create(campaign=campaign, version=version, mode="live")
    queue()
    client = client_for(mallory)
    page = client.get(f"/w/{workspace.slug}/campaigns/runs/{run.pk}/").content.decode()
    assert "Retry mail" not in page  # nothing changed since it failed: a retry would fail the same way
    from apps.audiences import services as audiences

    audiences.audience_create(workspace=workspace, actor=mallory, name="A change", definition={
        "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}})
    page = client.get(f"/w/{workspace.slug}/campaigns/runs/{run.pk}/").content.decode()
    assert "Retry mail" in page
    # a marketer may not retry a live run's activity
    assert client.post(f"/w/{workspace.slug}/campaigns/runs/{run.pk}/activities/mail/retry/").status_code == 403
    assert ActivityRun.objects.get(run=run, node_id="mail").status == "failed"


def test_split_and_enrichment_rules_may_use_saved_audiences(workspace, travel, queue):
    # Rules compiled inside an activity's own query carry the saved audiences they use
    # (each once, however often they are referred to).
    from apps.audiences import services as audiences

    dutch_or_german = audiences.audience_create(workspace=workspace, actor=None, name="NL or DE", definition={
        "entity": "customer", "rule": {"attr": "country", "op": "in", "value": ["NL", "DE"]}})
    live = audiences.audience_create(workspace=workspace, actor=None, name="Not cancelled", definition={
        "entity": "booking", "rule": {"attr": "status", "op": "ne", "value": "cancelled"}})
    nodes = [start(), build("all_c", {"attr": "customer_id", "op": "gte", "value": 1}),
             {"id": "enrich", "type": "enrichment", "settings": {
                 "aggregates": [{"name": "spent", "related": "bookings", "agg": "sum", "attr": "amount",
                                 "where": {"any": [{"in_audience": live.pk}, {"in_audience": live.pk}]}}]}},
             {"id": "split", "type": "split", "settings": {"subsets": [
                 {"name": "near", "rule": {"all": [{"in_audience": dutch_or_german.pk},
                                                   {"not": {"not_in_audience": dutch_or_german.pk}}]}}]}},
             {"id": "end", "type": "end"}, {"id": "end2", "type": "end"}]
    edges = [edge("start", "all_c"), edge("all_c", "enrich"), edge("enrich", "split"), edge("split", "end", "near"),
             edge("split", "end2", "others")]
    campaign, version = make_campaign(workspace, nodes, edges)
    run = executor.run_create(campaign=campaign, version=version)
    queue()
    assert Run.objects.get(pk=run.pk).status == "done", list(
        ActivityRun.objects.filter(run=run).values_list("node_id", "error"))
    assert keys(run, "split", "near") == [1, 2]
    assert keys(run, "split", "others") == [3]
    table = ActivityRun.objects.get(run=run, node_id="enrich").outlets["out"]["table"]
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT key, spent::text FROM "ws_{workspace.pk}"."{table}" ORDER BY key')
        assert cursor.fetchall() == [(1, "1890.50"), (2, "0"), (3, "0")]
