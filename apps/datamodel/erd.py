"""The entity-relationship diagram, laid out on the server and drawn as SVG (no JS library).

A layered layout: entities that link to no other entity are on the top row; every other
entity sits one row below the lowest entity it links to, so many-to-one arrows point up,
from the many side (booking) to the one side (customer). Within a row, entities follow
the mean position of the entities they link to, which keeps most lines from crossing.

The layering, ordering and row geometry are the shared ones of `apps.core.graphlayout`;
this module says what a parent is here (the entity a link points to) and draws the boxes.
`layout()` works on plain specs (no database), so it is unit-tested on its own;
`workspace_diagram()` builds the specs from a workspace's metadata (two queries)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from apps.core import graphlayout
from apps.core.graphlayout import bezier_point, cubic_path, spread

# Sizes in SVG pixels. Attribute rows use a monospace font so a box's width can be
# computed from character counts.
MONO_CHAR_W = 7.3  # 12px DejaVu Sans Mono and most monospace fonts
TITLE_CHAR_W = 8.2  # 13px bold sans-serif, a little generous
ROW_H = 18
HEAD_H = 30
PAD_X = 12
PAD_BOTTOM = 8
MIN_BOX_W = 170
MAX_ROWS = 14  # a box lists this many attributes, then "+ N more"
H_GAP = 70
V_GAP = 110  # room for the relationship names between rows
MARGIN = 24
SELF_LOOP = 36


@dataclass(frozen=True)
class AttributeSpec:
    key: str
    type: str
    is_primary_key: bool = False


@dataclass(frozen=True)
class EntitySpec:
    key: str
    label: str
    attributes: tuple[AttributeSpec, ...]
    is_profile: bool = False


@dataclass(frozen=True)
class LinkSpec:
    source: str  # entity key holding the link column (booking)
    target: str  # entity key it points to (customer)
    attribute: str  # the link column (customer_id)
    key: str  # the name from the source (booking.customer)
    reverse_key: str  # the name from the target (customer.bookings)
    kind: str = "many_to_one"


@dataclass
class Row:
    key: str
    type: str
    is_primary_key: bool
    is_link: bool
    y: float  # baseline, relative to the box's top


@dataclass
class Box:
    entity: EntitySpec
    layer: int
    x: float = 0
    y: float = 0
    w: float = 0
    h: float = 0
    rows: list[Row] = field(default_factory=list)
    more: int = 0  # attributes not listed
    href: str = ""

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def right(self) -> float:
        return self.x + self.w


@dataclass
class Edge:
    link: LinkSpec
    path: str  # SVG path data, from the source box to the target box
    start: tuple[float, float]
    end: tuple[float, float]
    label_at: tuple[float, float]  # where the source's name for the target is written (near the target)
    reverse_label_at: tuple[float, float]  # where the target's name for the sources is written (near the source)

    @property
    def title(self) -> str:
        link = self.link
        return (f"{link.source}.{link.key} → {link.target} (via {link.source}.{link.attribute}); "
                f"{link.target}.{link.reverse_key} lists the {link.source} records")


@dataclass
class Diagram:
    width: float
    height: float
    boxes: list[Box]
    edges: list[Edge]

    def box(self, key: str) -> Box:
        return next(b for b in self.boxes if b.entity.key == key)


# --- layering ------------------------------------------------------------------------------

def assign_layers(keys: Iterable[str], links: Iterable[LinkSpec]) -> dict[str, int]:
    """Row of each entity: 0 when it links to nothing, else one below the lowest entity it
    links to. A cycle (a -> b -> a) is cut where it is found, so this always ends."""
    keys = sorted(set(keys))
    parents: dict[str, set[str]] = {k: set() for k in keys}
    for link in links:
        if link.source != link.target and link.source in parents and link.target in parents:
            parents[link.source].add(link.target)
    # Sorted: the layers of a cycle do not depend on the order the links came in.
    return graphlayout.assign_layers(keys, {k: sorted(v) for k, v in parents.items()})


def _order_rows(layers: dict[str, int], links: list[LinkSpec]) -> list[list[str]]:
    """Entities per row, ordered by the mean position of their neighbours in the row above
    (then below), a few sweeps; ties broken by key so the result is stable."""
    rows = graphlayout.rows_by_layer(sorted(layers), layers)
    up: dict[str, list[tuple[str, float]]] = {k: [] for k in layers}
    down: dict[str, list[tuple[str, float]]] = {k: [] for k in layers}
    for link in links:
        if link.source in layers and link.target in layers and link.source != link.target:
            up[link.source].append((link.target, 0))
            down[link.target].append((link.source, 0))
    return graphlayout.order_rows(rows, up, down, tiebreak=lambda key: key)


# --- geometry ------------------------------------------------------------------------------

def _box_for(entity: EntitySpec, layer: int, link_columns: set[str]) -> Box:
    attributes = sorted(entity.attributes, key=lambda a: not a.is_primary_key)  # the key first
    shown = attributes[:MAX_ROWS]
    box = Box(entity=entity, layer=layer, more=len(attributes) - len(shown))
    for i, attribute in enumerate(shown):
        box.rows.append(Row(key=attribute.key, type=attribute.type, is_primary_key=attribute.is_primary_key,
                            is_link=attribute.key in link_columns, y=HEAD_H + ROW_H * (i + 1) - 4))
    widest_row = max((len(r.key) + len(r.type) + 4 for r in box.rows), default=0) * MONO_CHAR_W
    title = len(entity.label) + len(entity.key) + 3 + (4 if entity.is_profile else 0)
    box.w = round(max(MIN_BOX_W, widest_row + 2 * PAD_X, title * TITLE_CHAR_W + 2 * PAD_X))
    lines = len(box.rows) + (1 if box.more else 0)
    box.h = HEAD_H + lines * ROW_H + PAD_BOTTOM
    return box


def layout(entities: Iterable[EntitySpec], links: Iterable[LinkSpec],
           href: Callable[[str], str] | None = None) -> Diagram:
    """Place the boxes and route the lines. `href(entity_key)` gives each box's link."""
    entities = {e.key: e for e in entities}
    links = [link for link in links if link.source in entities and link.target in entities]
    links.sort(key=lambda link: (link.source, link.key))
    layers = assign_layers(entities, links)
    link_columns: dict[str, set[str]] = {k: set() for k in entities}
    for link in links:
        link_columns[link.source].add(link.attribute)
    rows = _order_rows(layers, links)

    boxes: dict[str, Box] = {}
    for row in rows:
        for key in row:
            boxes[key] = _box_for(entities[key], layers[key], link_columns[key])
    widths = {key: box.w for key, box in boxes.items()}
    # Self-links loop out on the right of their box: leave room for the loop.
    has_self = any(link.source == link.target for link in links)
    width = (max((graphlayout.row_width(row, widths, H_GAP) for row in rows), default=0) + 2 * MARGIN
             + (SELF_LOOP + 60 if has_self else 0))
    xs = graphlayout.centre_rows(rows, widths, gap=H_GAP, left=MARGIN, span=width - 2 * MARGIN)
    tops, height = graphlayout.stack_rows([max(boxes[k].h for k in row) for row in rows], margin=MARGIN, gap=V_GAP)
    for row, top in zip(rows, tops, strict=True):
        for key in row:
            box = boxes[key]
            box.x, box.y = round(xs[key]), top
            box.href = href(key) if href else ""

    # Attachment points: each side of a box shares its width among the lines that touch it,
    # ordered by where the line goes, so lines from one box do not cross each other.
    sides: dict[tuple[str, str], list[tuple[float, int, str]]] = {}
    plans: list[tuple[LinkSpec, str]] = []  # each link and the side of its source it leaves from
    for i, link in enumerate(links):
        src, dst = boxes[link.source], boxes[link.target]
        if link.source == link.target:
            plans.append((link, "self"))
            continue
        if src.layer > dst.layer:
            s_side, d_side = "top", "bottom"
        elif src.layer < dst.layer:
            s_side, d_side = "bottom", "top"
        else:
            s_side, d_side = ("left", "right") if src.x > dst.x else ("right", "left")
        sides.setdefault((link.source, s_side), []).append((dst.cx, i, "s"))
        sides.setdefault((link.target, d_side), []).append((src.cx, i, "d"))
        plans.append((link, s_side))
    anchor: dict[tuple[int, str], tuple[float, float]] = {}
    for (key, side), users in sides.items():
        box = boxes[key]
        users.sort()
        if side in ("top", "bottom"):
            edge_y = box.y if side == "top" else box.bottom
            for (_, i, end), x in zip(users, spread(len(users), box.x, box.w), strict=True):
                anchor[(i, end)] = (x, edge_y)
        else:
            edge_x = box.x if side == "left" else box.right
            for (_, i, end), y_ in zip(users, spread(len(users), box.y + HEAD_H, box.h - HEAD_H), strict=True):
                anchor[(i, end)] = (edge_x, y_)

    edges = []
    for i, (link, s_side) in enumerate(plans):
        if s_side == "self":
            box = boxes[link.source]
            p0 = (box.right, box.y + HEAD_H + 6)
            p3 = (box.right, box.y + HEAD_H + 6 + ROW_H * 1.5)
            p1, p2 = (p0[0] + SELF_LOOP * 2, p0[1] - SELF_LOOP), (p3[0] + SELF_LOOP * 2, p3[1] + SELF_LOOP)
        else:
            p0, p3 = anchor[(i, "s")], anchor[(i, "d")]
            if s_side in ("top", "bottom"):
                bend = max(40.0, abs(p3[1] - p0[1]) / 2)
                sign = -1 if s_side == "top" else 1
                p1, p2 = (p0[0], p0[1] + sign * bend), (p3[0], p3[1] - sign * bend)
            else:
                bend = max(40.0, abs(p3[0] - p0[0]) / 2)
                sign = -1 if s_side == "left" else 1
                p1, p2 = (p0[0] + sign * bend, p0[1]), (p3[0] - sign * bend, p3[1])
        p0, p3 = (round(p0[0], 1), round(p0[1], 1)), (round(p3[0], 1), round(p3[1], 1))
        near_target = bezier_point(p0, p1, p2, p3, 0.8)
        near_source = bezier_point(p0, p1, p2, p3, 0.2)
        edges.append(Edge(link=link, path=cubic_path(p0, p1, p2, p3), start=p0, end=p3,
                          label_at=(round(near_target[0], 1), round(near_target[1], 1)),
                          reverse_label_at=(round(near_source[0], 1), round(near_source[1], 1))))
    ordered = [boxes[k] for row in rows for k in row]
    return Diagram(width=round(width), height=round(height), boxes=ordered, edges=edges)


def diagram_for(entities, relationships, href: Callable[[str], str] | None = None) -> Diagram:
    """The diagram of Entity and Relationship rows (attributes prefetched, see entity_list)."""
    specs = [
        EntitySpec(key=e.key, label=e.label, is_profile=e.is_profile,
                   attributes=tuple(AttributeSpec(a.key, a.type, a.is_primary_key) for a in e.attributes.all()))
        for e in entities
    ]
    links = [
        LinkSpec(source=r.source.key, target=r.target.key, attribute=r.attribute.key, key=r.key,
                 reverse_key=r.reverse_key, kind=r.kind)
        for r in relationships
    ]
    return layout(specs, links, href=href)


def workspace_diagram(workspace, href: Callable[[str], str] | None = None) -> Diagram:
    """The diagram of a workspace's model (three queries)."""
    from .selectors import entity_list, relationship_list  # noqa: PLC0415

    return diagram_for(entity_list(workspace=workspace), relationship_list(workspace=workspace), href=href)
