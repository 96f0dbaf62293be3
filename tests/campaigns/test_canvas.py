"""The layered canvas layout (no database) and the canvas edits as pure functions."""

import pytest

from apps.campaigns import editing
from apps.campaigns.canvas import MARGIN, NODE_H, V_GAP, assign_layers, layout, summarize


def n(node_id, type_="build_audience", **settings):
    return {"id": node_id, "type": type_, "settings": settings}


def e(src, dst, outlet="out"):
    return {"from": src, "outlet": outlet, "to": dst}


SPLIT = {"nodes": [n("start", "start"), n("all"), n("tiers", "split", subsets=[{"name": "gold"}], complement=True),
                   n("mail", "email"), n("sms", "sms"), n("end", "end")],
         "edges": [e("start", "all"), e("all", "tiers"), e("tiers", "mail", "gold"), e("tiers", "sms", "others"),
                   e("mail", "end"), e("sms", "end")]}


def test_layers_are_the_longest_path_from_the_start():
    edges = [(i, x["from"], x["outlet"], x["to"]) for i, x in enumerate(SPLIT["edges"])]
    assert assign_layers([x["id"] for x in SPLIT["nodes"]], edges) == {
        "start": 0, "all": 1, "tiers": 2, "mail": 3, "sms": 3, "end": 4}


def test_the_start_is_on_top_and_branches_side_by_side_in_outlet_order():
    canvas = layout(SPLIT)
    y = {node.id: node.y for node in canvas.nodes}
    assert y == {"start": MARGIN, "all": MARGIN + NODE_H + V_GAP, "tiers": MARGIN + 2 * (NODE_H + V_GAP),
                 "mail": MARGIN + 3 * (NODE_H + V_GAP), "sms": MARGIN + 3 * (NODE_H + V_GAP),
                 "end": MARGIN + 4 * (NODE_H + V_GAP)}
    mail, sms = canvas.node("mail"), canvas.node("sms")
    assert mail.x + mail.w < sms.x  # gold (the first outlet) on the left, others on the right
    assert canvas.node("start").cx == canvas.node("all").cx == canvas.node("end").cx == canvas.width / 2
    assert canvas.height == 2 * MARGIN + 5 * NODE_H + 4 * V_GAP
    assert [node.id for node in canvas.nodes] == ["start", "all", "tiers", "mail", "sms", "end"]


def test_every_edge_points_down_from_the_bottom_of_its_source_to_the_top_of_its_target():
    canvas = layout(SPLIT)
    for edge in canvas.edges:
        source, target = canvas.node(edge.source), canvas.node(edge.target)
        start, end = edge.path.split(" C ")[0], edge.path.split(", ")[-1]
        assert float(start.split()[2]) == source.bottom
        assert float(end.split()[1]) == target.y
        assert source.y < edge.label_at[1] < target.y


def test_edge_labels_show_outlet_names_and_counts_after_a_run():
    canvas = layout(SPLIT, counts={("all", "out", "tiers"): 1200, ("tiers", "gold", "mail"): 7,
                                   ("tiers", "others", "sms"): 0})
    labels = {(x.source, x.target): x.label for x in canvas.edges}
    assert labels == {("start", "all"): "", ("all", "tiers"): "1,200", ("tiers", "mail"): "gold · 7",
                      ("tiers", "sms"): "others · 0", ("mail", "end"): "", ("sms", "end"): ""}


def test_statuses_problems_and_free_outlets_are_on_the_boxes():
    half = {"nodes": SPLIT["nodes"][:3], "edges": SPLIT["edges"][:2]}
    canvas = layout(half, statuses={"all": "running"}, problems={"tiers": ["add at least one subset."]},
                    selected_node="tiers")
    tiers = canvas.node("tiers")
    assert (tiers.outlets, tiers.free_outlets, tiers.problems, tiers.selected) == (
        ["gold", "others"], ["gold", "others"], ["add at least one subset."], True)
    assert canvas.node("all").status == "running"
    assert (canvas.node("start").kind, canvas.node("all").kind, tiers.kind) == ("start", "targeting", "targeting")


def test_an_empty_definition_and_a_cycle_still_lay_out():
    assert layout({"nodes": [], "edges": []}).nodes == []
    cyclic = {"nodes": [n("a", "fork"), n("b", "fork")], "edges": [e("a", "b", "branch1"), e("b", "a", "branch1")]}
    canvas = layout(cyclic)
    assert {node.id for node in canvas.nodes} == {"a", "b"}
    assert len(canvas.edges) == 2


START = {"nodes": [n("start", "start")], "edges": []}


def test_add_after_then_insert_on_the_edge_and_remove_bridges():
    d, new = editing.add_after(START, node_id="start", outlet=None, activity_type="build_audience")
    assert new == "build_audience"
    d, end = editing.add_after(d, node_id="build_audience", outlet=None, activity_type="end")
    d, mail = editing.add_on_edge(d, edge_index=1, activity_type="email")
    assert d["edges"] == [e("start", "build_audience"), e("build_audience", "email"), e("email", "end")]
    assert [x["id"] for x in d["nodes"]] == ["start", "build_audience", "end", "email"]
    # adding after an activity whose outlet leads somewhere inserts in between
    d2, dedup = editing.add_after(d, node_id="build_audience", outlet="out", activity_type="deduplicate")
    assert d2["edges"][1:3] == [e("build_audience", "deduplicate"), e("deduplicate", "email")]
    d3 = editing.remove(d, node_id="email")
    assert d3["edges"] == [e("start", "build_audience"), e("build_audience", "end")]
    assert START == {"nodes": [n("start", "start")], "edges": []}  # the input is never changed


def test_connect_replaces_the_edge_on_an_outlet_and_configure_renames():
    d = {"nodes": [n("start", "start"), n("a"), n("b", "end"), n("c", "end")],
         "edges": [e("start", "a"), e("a", "b")]}
    assert editing.connect(d, node_id="a", outlet="out", target="c")["edges"] == [e("start", "a"), e("a", "c")]
    with pytest.raises(editing.EditError, match="cannot feed itself"):
        editing.connect(d, node_id="a", outlet="out", target="a")
    renamed = editing.configure(d, node_id="a", settings={"audience": 3}, label="Dutch", new_node_id="dutch")
    assert renamed["nodes"][1] == {"id": "dutch", "type": "build_audience", "settings": {"audience": 3},
                                   "label": "Dutch"}
    assert renamed["edges"] == [e("start", "dutch"), e("dutch", "b")]
    with pytest.raises(editing.EditError, match="The Start cannot be removed"):
        editing.remove(d, node_id="start")


def test_a_summary_says_what_each_activity_is_set_to():
    definition = {"nodes": [n("start", "start"), n("a", audience=7), n("b", definition={"entity": "booking"}),
                            n("c", "combine", operation="exclusion"), SPLIT["nodes"][2],
                            n("d", "deduplicate", fields=["email"]), n("p", "change_dimension", path=["customer"]),
                            n("f", "fork", branches=3), n("m", "email")], "edges": []}
    assert layout(definition, summaries=summarize(definition, {7: "Dutch"})).node("a").summary == "Dutch"
    assert summarize(definition, {7: "Dutch"}) == {
        "a": "Dutch", "b": "rule on booking", "c": "exclusion", "tiers": "1 subset(s)", "d": "by email",
        "p": "→ customer", "f": "3 branches"}


def test_an_activity_sits_under_what_feeds_it_and_rows_never_overlap():
    definition = {"nodes": [n("start", "start"), n("tiers", "split", subsets=[{"name": "gold"}]), n("mail", "email"),
                            n("pause", "wait"), n("sms", "sms"), n("end", "end"), n("lost", "end")],
                  "edges": [e("start", "tiers"), e("tiers", "mail", "gold"), e("tiers", "pause", "others"),
                            e("pause", "sms"), e("mail", "end"), e("sms", "end")]}
    canvas = layout(definition)
    box = canvas.node
    assert box("sms").x == box("pause").x  # under the Wait, not centred in its row
    assert box("end").cx == (box("mail").cx + box("sms").cx) / 2
    assert box("mail").x + box("mail").w < box("pause").x
    assert box("start").y == box("lost").y  # a disconnected activity is a root, beside the Start
    assert box("start").x + box("start").w < box("lost").x
    assert min(b.x for b in canvas.nodes) == MARGIN
    assert max(b.x + b.w for b in canvas.nodes) == canvas.width - MARGIN


def _points(path):
    tokens = path.replace("M", "").split(" L ")
    return [tuple(float(v) for v in t.split()) for t in tokens]


def _crosses(p, q, box):
    """Does the axis-parallel segment p-q pass through the box's inside?"""
    (x1, y1), (x2, y2) = p, q
    xs, ys = sorted((x1, x2)), sorted((y1, y2))
    return xs[0] < box.x + box.w and xs[1] > box.x and ys[0] < box.y + box.h and ys[1] > box.y


@pytest.mark.parametrize("definition", [
    # the exclusion's second input comes straight from the Start-side audience, past a split's row
    {"nodes": [n("start", "start"), n("all"), n("mid", "deduplicate", fields=["email"]), n("late"),
               n("minus", "combine", operation="exclusion"), n("end", "end")],
     "edges": [e("start", "all"), e("all", "mid"), e("mid", "late"), e("late", "minus"), e("all", "minus"),
               e("minus", "end")]},
    # a wide middle row: the long edge must find a gap or go round the side
    {"nodes": [n("start", "start"), n("a"), n("f", "fork", branches=3), n("b1", "end"), n("b2", "end"),
               n("b3", "end"), n("join", "and_join"), n("end", "end")],
     "edges": [e("start", "a"), e("a", "f"), e("f", "b1", "branch1"), e("f", "b2", "branch2"),
               e("f", "join", "branch3"), e("start", "join"), e("join", "end")]},
])
def test_an_edge_that_skips_rows_is_routed_around_the_boxes(definition):
    canvas = layout(definition)
    long_edges = [x for x in canvas.edges if " L " in x.path]
    assert long_edges, [x.path for x in canvas.edges]
    for edge in long_edges:
        points = _points(edge.path)
        source, target = canvas.node(edge.source), canvas.node(edge.target)
        assert points[0][1] == source.bottom and points[-1][1] == target.y
        segments = list(zip(points, points[1:], strict=False))
        assert all(a[0] == b[0] or a[1] == b[1] for a, b in segments)  # orthogonal
        for box in canvas.nodes:
            if box.id not in (edge.source, edge.target):
                assert not any(_crosses(a, b, box) for a, b in segments), (edge.source, edge.target, box.id)
    # edges between neighbouring rows stay curves
    assert all(" C " in x.path for x in canvas.edges if x not in long_edges)
