"""Split's top N by an attribute and limit per group, the empty-audience choice (stop the
branch) and the guardrail of ten channel activities at publish: exact keys on small data."""

import re

import pytest

from apps.campaigns import executor
from apps.campaigns.graph import GraphError, check_graph
from apps.campaigns.models import ActivityRun
from tests.campaigns.test_executor import build, edge, keys, make_campaign, start


def _split_run(workspace, queue, subsets, entity="customer", rule=None, name="Spring"):
    nodes = [start(), build("rows", rule or {"attr": f"{entity}_id", "op": "gte", "value": 1}, entity=entity),
             {"id": "pick", "type": "split", "settings": {"subsets": subsets, "complement": True}},
             {"id": "end", "type": "end"}, {"id": "end2", "type": "end"}]
    edges = [edge("start", "rows"), edge("rows", "pick"), edge("pick", "end", subsets[0]["name"]),
             edge("pick", "end2", "others")]
    campaign, version = make_campaign(workspace, nodes, edges, name=name)
    check_graph(workspace=workspace, definition=version.definition)
    run = executor.run_create(campaign=campaign, version=version)
    queue()
    run.refresh_from_db()
    assert run.status == "done", list(ActivityRun.objects.filter(run=run).values("node_id", "status", "error"))
    return run


@pytest.mark.parametrize("top, expected", [
    ({"attr": "customer_id", "desc": True, "n": 2}, [2, 3]),
    ({"attr": "customer_id", "desc": False, "n": 1}, [1]),
    # Empty values come last whichever the direction (customer 3 has no birth date).
    ({"attr": "birth_date", "desc": True, "n": 2}, [1, 2]),
    ({"attr": "birth_date", "desc": False, "n": 2}, [1, 2]),
])
def test_split_takes_the_top_n_by_an_attribute(workspace, travel, queue, top, expected):
    run = _split_run(workspace, queue, [{"name": "best", "top": top}])
    assert keys(run, "pick", "best") == expected
    assert keys(run, "pick", "others") == sorted({1, 2, 3} - set(expected))


def test_split_limits_rows_per_group_in_the_top_order_and_in_all(workspace, travel, queue):
    # Bookings 1000 and 1002 are of product 100, 1001 of product 101; 1002 was booked last.
    run = _split_run(workspace, queue, [{"name": "latest", "per_group": {"attr": "product_id", "limit": 1},
                                         "top": {"attr": "booked_at", "desc": True, "n": 5}}], entity="booking")
    assert keys(run, "pick", "latest") == [1001, 1002]
    assert keys(run, "pick", "others") == [1000]
    run = _split_run(workspace, queue, [{"name": "latest", "per_group": {"attr": "product_id", "limit": 1},
                                         "top": {"attr": "booked_at", "desc": True, "n": 1}}], entity="booking",
                     name="Autumn")
    assert keys(run, "pick", "latest") == [1002]


def test_split_combines_a_rule_with_the_top_n_and_a_limit(workspace, travel, queue):
    run = _split_run(workspace, queue, [{"name": "best", "rule": {"attr": "country", "op": "in", "value": ["NL", "DE"]},
                                         "top": {"attr": "customer_id", "desc": True, "n": 5}, "limit": 1}])
    assert keys(run, "pick", "best") == [2]


@pytest.mark.parametrize("subset, message", [
    ({"name": "best", "top": {"attr": "nope", "n": 2}}, "choose the attribute of customer to take the top by"),
    ({"name": "best", "top": {"attr": "customer_id", "n": 0}}, "the top N is a whole number of 1 or more"),
    ({"name": "best", "per_group": {"attr": "country"}}, "the limit per group is a whole number of 1 or more"),
    ({"name": "best", "per_group": {"attr": "x", "limit": 2}}, "whose values form groups"),
])
def test_split_refuses_a_top_or_group_it_cannot_do(workspace, travel, subset, message):
    definition = {"nodes": [start(), build("rows", None), {"id": "pick", "type": "split", "settings": {
        "subsets": [subset]}}, {"id": "end", "type": "end"}, {"id": "end2", "type": "end"}],
        "edges": [edge("start", "rows"), edge("rows", "pick"), edge("pick", "end", "best"),
                  edge("pick", "end2", "others")]}
    with pytest.raises(GraphError) as caught:
        check_graph(workspace=workspace, definition=definition)
    assert any(p["node"] == "pick" and message in p["message"] for p in caught.value.problems), caught.value.problems


def _empty_branch(workspace, queue, on_empty):
    nodes = [start(), {**build("nobody", {"attr": "country", "op": "eq", "value": "XX"}),
                       "settings": {"definition": {"entity": "customer", "rule": {
                           "attr": "country", "op": "eq", "value": "XX"}}, "on_empty": on_empty}},
             {"id": "later", "type": "deduplicate", "settings": {"fields": ["email"]}},
             {"id": "end", "type": "end"}, {"id": "end2", "type": "end"}]
    edges = [edge("start", "nobody"), edge("nobody", "later"), edge("later", "end"),
             edge("later", "end2", "duplicates")]
    campaign, version = make_campaign(workspace, nodes, edges)
    check_graph(workspace=workspace, definition=version.definition)
    run = executor.run_create(campaign=campaign, version=version)
    queue()
    run.refresh_from_db()
    return run, dict(ActivityRun.objects.filter(run=run).values_list("node_id", "status"))


def test_an_empty_audience_stops_the_branch_when_chosen(workspace, travel, queue):
    run, statuses = _empty_branch(workspace, queue, "stop")
    assert run.status == "done"
    assert statuses == {"start": "done", "nobody": "done", "later": "skipped", "end": "skipped", "end2": "skipped"}
    assert ActivityRun.objects.get(run=run, node_id="nobody").report == {"stopped_empty": ["out"]}


def test_the_run_page_says_where_the_branch_stopped_and_why_the_rest_was_skipped(workspace, travel, queue,
                                                                                mallory, client_for):
    from django.urls import reverse

    run, _ = _empty_branch(workspace, queue, "stop")
    page = client_for(mallory).get(reverse("camp-run", kwargs={"workspace_slug": workspace.slug, "pk": run.pk}))
    why = dict(re.findall(r'data-why="(\w+)">([^<]*)<', page.content.decode()))
    assert why.pop("nobody") == "No rows: the branch stops here, as this activity is set to do on an empty audience."
    assert set(why) == {"later", "end", "end2"}
    assert all(text.startswith("Skipped: “") and text.endswith("” had no rows and stops its branch then.")
               for text in why.values()), why


def test_an_empty_audience_continues_by_default(workspace, travel, queue):
    run, statuses = _empty_branch(workspace, queue, "continue")
    assert run.status == "done"
    assert statuses == {"start": "done", "nobody": "done", "later": "done", "end": "done", "end2": "done"}


def test_a_non_empty_audience_goes_on_when_stop_is_chosen(workspace, travel, queue):
    nodes = [start(), {"id": "nl", "type": "build_audience", "settings": {
        "definition": {"entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}},
        "on_empty": "stop"}}, {"id": "end", "type": "end"}]
    campaign, version = make_campaign(workspace, nodes, [edge("start", "nl"), edge("nl", "end")])
    run = executor.run_create(campaign=campaign, version=version)
    queue()
    assert dict(ActivityRun.objects.filter(run=run).values_list("node_id", "status")) == {
        "start": "done", "nl": "done", "end": "done"}


def test_on_empty_is_continue_or_stop(workspace, travel):
    definition = {"nodes": [start(), {**build("nl", None), "settings": {"definition": {"entity": "customer",
                                                                                        "rule": None},
                                                                         "on_empty": "maybe"}}], "edges": []}
    with pytest.raises(GraphError) as caught:
        check_graph(workspace=workspace, definition=definition, complete=False)
    assert caught.value.problems == [{"node": "nl", "message": "on_empty is 'continue' or 'stop' (what an empty "
                                                               "audience does to the branch)."}]


def test_publishing_refuses_more_than_ten_channel_activities(workspace, travel):
    mails = [{"id": f"mail{i}", "type": "email", "settings": {"content": {
        "subject": "Hi", "html": "<p>Hi</p>", "from_email": "news@travel.test"}}} for i in range(11)]
    definition = {"nodes": [start(), build("nl", None), {"id": "fan", "type": "fork", "settings": {"branches": 11}},
                            *mails, {"id": "end", "type": "end"}],
                  "edges": [edge("start", "nl"), edge("nl", "fan")]
                  + [edge("fan", f"mail{i}", f"branch{i + 1}") for i in range(11)]
                  + [edge(f"mail{i}", "end") for i in range(11)]}
    check_graph(workspace=workspace, definition=definition)  # a draft and a test run may hold them
    with pytest.raises(GraphError) as caught:
        check_graph(workspace=workspace, definition=definition, publishing=True)
    assert {"node": "", "message": "a campaign sends through at most 10 channel activities; this one has 11: "
                                   "split it into several campaigns."} in caught.value.problems
    ten = {**definition, "nodes": definition["nodes"][:-2] + [definition["nodes"][-1]],
           "edges": [e for e in definition["edges"] if "mail10" not in (e["from"], e["to"])]}
    ten["nodes"][2]["settings"]["branches"] = 10
    check_graph(workspace=workspace, definition=ten, publishing=True)
