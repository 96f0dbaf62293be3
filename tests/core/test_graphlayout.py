"""The shared layered-graph layout (pure geometry, no database) of the canvas and the ER diagram."""

from apps.core.graphlayout import (
    assign_layers,
    bezier_point,
    centre_rows,
    cubic_path,
    fmt,
    order_rows,
    place_under_parents,
    row_width,
    rows_by_layer,
    spread,
    stack_rows,
)


def test_a_node_sits_one_row_below_its_lowest_parent():
    # a feeds b and c, both feed d, and a feeds d directly: d follows the longest path.
    parents = {"b": ["a"], "c": ["a"], "d": ["b", "c", "a"]}
    assert assign_layers(["a", "b", "c", "d"], parents) == {"a": 0, "b": 1, "c": 1, "d": 2}


def test_a_cycle_is_cut_where_it_is_found_in_the_order_given():
    parents = {"a": ["b"], "b": ["a"], "c": ["c"]}
    assert assign_layers(["a", "b"], parents) == {"a": 1, "b": 0}
    assert assign_layers(["b", "a"], parents) == {"b": 1, "a": 0}
    assert assign_layers(["c"], parents) == {"c": 0}  # a self-loop pushes nothing down


def test_rows_by_layer_keep_the_order_of_the_nodes():
    assert rows_by_layer(["z", "a", "m", "b"], {"a": 0, "b": 1, "m": 1, "z": 0}) == [["z", "a"], ["m", "b"]]
    assert rows_by_layer([], {}) == []


def test_ordering_uncrosses_edges_nudges_branches_and_breaks_ties_as_asked():
    # a -> x, b -> y with x first: the crossing goes.
    up = {"x": [("a", 0)], "y": [("b", 0)]}
    down = {"a": [("x", 0)], "b": [("y", 0)]}
    assert order_rows([["a", "b"], ["y", "x"]], up, down) == [["a", "b"], ["x", "y"]]
    # Two children of one parent: the nudge puts q (outlet 0) before p (outlet 1).
    up = {"p": [("s", 0.01)], "q": [("s", 0)]}
    assert order_rows([["s"], ["p", "q"]], up, {}) == [["s"], ["q", "p"]]
    # A tie keeps the current order, unless a tiebreak is given.
    up = {"z": [("s", 0)], "y": [("s", 0)]}
    assert order_rows([["s"], ["z", "y"]], up, {}) == [["s"], ["z", "y"]]
    assert order_rows([["s"], ["z", "y"]], up, {}, tiebreak=lambda key: key) == [["s"], ["y", "z"]]


def test_rows_stack_below_a_margin_with_a_gap_between():
    assert stack_rows([10, 30, 20], margin=5, gap=4) == ([5, 19, 53], 78)
    assert stack_rows([], margin=5, gap=4) == ([], 10)


def test_rows_are_centred_in_the_span():
    widths = {"a": 10, "b": 20, "c": 30}
    assert row_width(["b", "c"], widths, 5) == 55
    assert centre_rows([["a"], ["b", "c"]], widths, gap=5, left=2, span=60) == {"a": 27, "b": 4.5, "c": 29.5}


def test_children_sit_symmetrically_under_their_parent_and_a_join_under_its_branches():
    rows = [["s"], ["a", "b"], ["j"]]
    parents = {"a": ["s"], "b": ["s"], "j": ["a", "b"]}
    assert place_under_parents(rows, parents, 10) == {"s": 0, "a": -5, "b": 5, "j": 0}
    # A row of nodes with no parent: side by side from 0.
    assert place_under_parents([["s"], ["p", "q"]], {}, 10) == {"s": 0, "p": 0, "q": 10}


def test_children_that_would_overlap_push_each_other_apart():
    # a and b wish to be under s1 (at 0), c under s2 (at 30): a block of three, centred on their wishes.
    rows = [["s1", "s2"], ["a", "b", "c"]]
    parents = {"a": ["s1"], "b": ["s1"], "c": ["s2"]}
    assert place_under_parents(rows, parents, 30) == {"s1": 0, "s2": 30, "a": -20, "b": 10, "c": 40}
    # Far enough apart: each stays under its own parent.
    rows = [["s1", "s2"], ["a", "b"]]
    assert place_under_parents(rows, {"a": ["s1"], "b": ["s2"]}, 10) == {"s1": 0, "s2": 10, "a": 0, "b": 10}


def test_curves_and_attachment_points():
    assert spread(3, 0, 100) == [25, 50, 75]
    assert spread(0, 0, 100) == []
    p0, p1, p2, p3 = (0, 0), (0, 10), (20, 10), (20, 20)
    assert bezier_point(p0, p1, p2, p3, 0) == (0, 0)
    assert bezier_point(p0, p1, p2, p3, 1) == (20, 20)
    assert bezier_point(p0, p1, p2, p3, 0.5) == (10, 10)
    assert [fmt(12.0), fmt(0.5), fmt(130.06)] == ["12", "0.5", "130.1"]
    assert cubic_path(p0, p1, p2, p3) == "M 0 0 C 0 10, 20 10, 20 20"
