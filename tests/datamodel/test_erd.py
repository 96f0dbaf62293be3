"""The entity-relationship diagram's layout (pure geometry, no database) and its SVG."""

from __future__ import annotations

import re
from itertools import combinations

from django.template.loader import render_to_string

from apps.datamodel.erd import (
    MAX_ROWS,
    AttributeSpec,
    EntitySpec,
    LinkSpec,
    assign_layers,
    layout,
)


def entity(key: str, *attributes: tuple[str, str], profile: bool = False) -> EntitySpec:
    return EntitySpec(key=key, label=key.capitalize(), is_profile=profile, attributes=(
        AttributeSpec(f"{key}_id", "integer", True), *(AttributeSpec(k, t) for k, t in attributes)))


def link(source: str, target: str, key: str, reverse_key: str) -> LinkSpec:
    return LinkSpec(source=source, target=target, attribute=f"{target}_id", key=key, reverse_key=reverse_key)


TRAVEL = [
    entity("customer", ("email", "email"), ("birth_date", "date"), profile=True),
    entity("product", ("name", "text")),
    entity("booking", ("customer_id", "integer"), ("product_id", "integer"), ("amount", "decimal")),
]
TRAVEL_LINKS = [link("booking", "customer", "customer", "bookings"), link("booking", "product", "product", "bookings")]


def overlaps(a, b) -> bool:
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom


def on_border(box, point) -> bool:
    x, y = point
    on_x = box.x - 0.5 <= x <= box.right + 0.5
    on_y = box.y - 0.5 <= y <= box.bottom + 0.5
    return (on_x and (abs(y - box.y) < 0.5 or abs(y - box.bottom) < 0.5)) or (
        on_y and (abs(x - box.x) < 0.5 or abs(x - box.right) < 0.5))


def test_entities_that_link_to_nothing_are_on_top_and_their_children_below():
    diagram = layout(TRAVEL, TRAVEL_LINKS)
    customer, product, booking = (diagram.box(k) for k in ("customer", "product", "booking"))
    assert (customer.layer, product.layer, booking.layer) == (0, 0, 1)
    assert customer.y == product.y
    assert booking.y > max(customer.bottom, product.bottom)
    # the child sits between its two parents
    assert customer.cx < booking.cx < product.cx or product.cx < booking.cx < customer.cx


def test_boxes_do_not_overlap_and_fit_in_the_canvas():
    entities = [entity(f"e{i}", ("name", "text")) for i in range(6)]
    links = [link("e1", "e0", "parent", "children"), link("e2", "e0", "owner", "owned"),
             link("e3", "e1", "up", "downs"), link("e4", "e3", "up", "downs"), link("e5", "e2", "up", "downs")]
    diagram = layout(entities, links)
    for a, b in combinations(diagram.boxes, 2):
        assert not overlaps(a, b), (a.entity.key, b.entity.key)
    for box in diagram.boxes:
        assert 0 <= box.x and box.right <= diagram.width
        assert 0 <= box.y and box.bottom <= diagram.height
    assert [diagram.box(f"e{i}").layer for i in range(6)] == [0, 1, 1, 2, 3, 2]


def test_a_line_runs_from_the_source_box_to_the_target_box():
    diagram = layout(TRAVEL, TRAVEL_LINKS)
    assert len(diagram.edges) == 2
    for edge in diagram.edges:
        source, target = diagram.box(edge.link.source), diagram.box(edge.link.target)
        assert on_border(source, edge.start), (edge.link, edge.start)
        assert on_border(target, edge.end), (edge.link, edge.end)
        assert edge.path.startswith(f"M {edge.start[0]:g} {edge.start[1]:g} C ")
    # two lines leave booking's top side at different points
    starts = {edge.start for edge in diagram.edges}
    assert len(starts) == 2


def test_each_box_lists_the_key_first_then_the_attributes_with_types():
    diagram = layout(TRAVEL, TRAVEL_LINKS)
    booking = diagram.box("booking")
    assert [(r.key, r.type, r.is_primary_key, r.is_link) for r in booking.rows] == [
        ("booking_id", "integer", True, False), ("customer_id", "integer", False, True),
        ("product_id", "integer", False, True), ("amount", "decimal", False, False)]
    assert booking.more == 0


def test_a_big_entity_lists_the_first_attributes_and_counts_the_rest():
    big = entity("wide", *((f"col_{i}", "text") for i in range(30)))
    diagram = layout([big], [])
    box = diagram.box("wide")
    assert len(box.rows) == MAX_ROWS
    assert box.more == 31 - MAX_ROWS
    assert box.w >= len("col_10") * 7


def test_cycles_and_self_links_are_laid_out_without_looping():
    entities = [entity("a", ("b_id", "integer")), entity("b", ("a_id", "integer")),
                entity("employee", ("employee_id_manager", "integer"))]
    links = [LinkSpec("a", "b", "b_id", "b", "as_"), LinkSpec("b", "a", "a_id", "a", "bs"),
             LinkSpec("employee", "employee", "employee_id_manager", "manager", "reports")]
    layers = assign_layers(["a", "b", "employee"], links)
    assert layers["employee"] == 0
    assert sorted([layers["a"], layers["b"]]) == [0, 1]
    diagram = layout(entities, links)
    assert len(diagram.edges) == 3
    loop = next(e for e in diagram.edges if e.link.key == "manager")
    employee = diagram.box("employee")
    assert loop.start[0] == loop.end[0] == employee.right
    assert diagram.width >= employee.right + 36


def test_an_empty_model_is_an_empty_diagram():
    diagram = layout([], [])
    assert (diagram.boxes, diagram.edges) == ([], [])


def test_links_to_unknown_entities_are_left_out():
    diagram = layout(TRAVEL[:1], TRAVEL_LINKS)
    assert diagram.edges == []


def test_the_svg_names_every_entity_and_both_ends_of_every_link():
    diagram = layout(TRAVEL, TRAVEL_LINKS, href=lambda key: f"/entities/{key}/")
    svg = render_to_string("datamodel/_erd.svg", {"diagram": diagram, "workspace": {"name": "Northwind"}})
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" class="erd" viewBox="0 0 ')
    for key in ("customer", "product", "booking"):
        assert f'href="/entities/{key}/" data-entity="{key}"' in svg
    assert re.findall(r'class="erd-label"[^>]*>([^<]+)</text>', svg) == ["customer", "product"]
    assert re.findall(r'class="erd-label erd-reverse"[^>]*>([^<]+)</text>', svg) == ["bookings", "bookings"]
    assert svg.count('marker-end="url(#erd-arrow)"') == 2
    assert 'class="erd-entity erd-profile"' in svg
    assert '<text class="erd-attr erd-fk" x="12"' in svg
    assert "amount</text>" in svg and ">decimal</text>" in svg
