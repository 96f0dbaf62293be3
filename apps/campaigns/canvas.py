"""The campaign canvas, laid out on the server and drawn as SVG (no JS library).

A layered layout: the Start is on the top row; every other activity sits one row below
the lowest activity that feeds it (the longest path from a root), so every edge points
down. Within a row, activities follow the mean position of the activities that feed them
(then of those they feed), which keeps branches side by side and most edges uncrossed.

The layering, ordering and placement are the shared ones of `apps.core.graphlayout`;
this module says what a parent is here (what feeds an activity) and draws the boxes.
`layout()` works on a plain definition (no database), so it is unit-tested on its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from apps.core import graphlayout
from apps.core.graphlayout import bezier_point, cubic_path, fmt, spread

from .activities import REGISTRY

NODE_W = 176
NODE_H = 54
H_GAP = 48
V_GAP = 84  # room for the outlet names and counts on the edges
MARGIN = 24
MIN_WIDTH = NODE_W + 2 * MARGIN


@dataclass
class NodeBox:
    id: str
    type: str
    label: str
    layer: int
    x: float = 0
    y: float = 0
    w: float = NODE_W
    h: float = NODE_H
    outlets: list[str] = field(default_factory=list)
    free_outlets: list[str] = field(default_factory=list)  # outlets connected to nothing
    outlet_labels: dict[str, str] = field(default_factory=dict)  # outlet -> its words, where it has some
    status: str = ""  # of the activity in a run: waiting, running, done...
    problems: list[str] = field(default_factory=list)
    selected: bool = False
    summary: str = ""  # what the settings say, in a few words (shown under the label)

    @property
    def outlet_choices(self) -> list[tuple[str, str]]:
        """(outlet, what to call it) for the outlet menus of the side panel."""
        return [(o, self.outlet_labels.get(o, o)) for o in self.outlets]

    @property
    def status_text(self) -> str:
        """The status as written in the box's corner (short: the box is narrow)."""
        return {"awaiting_confirmation": "to confirm"}.get(self.status, self.status)

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def kind(self) -> str:
        """A colour family: start, targeting, flow, channel, end."""
        activity = REGISTRY.get(self.type)
        if activity is None:
            return "unknown"
        if activity.is_start:
            return "start"
        if activity.sends:
            return "channel"
        if self.type == "end":
            return "end"
        if self.type in ("fork", "and_join", "wait"):
            return "flow"
        return "targeting"


@dataclass
class EdgeLine:
    index: int  # the edge's position in the definition
    source: str
    outlet: str
    target: str
    path: str
    label_at: tuple[float, float]
    count: int | None = None
    selected: bool = False
    outlet_label: str = ""  # the outlet's words (Activity.outlet_labels), else its name

    @property
    def label(self) -> str:
        """What is written on the edge: the outlet's name (or words) unless it is the only
        one, and the row count after a run."""
        parts = [] if self.outlet == "out" else [self.outlet_label or self.outlet]
        if self.count is not None:
            parts.append(f"{self.count:,}")
        return " · ".join(parts)


@dataclass
class Canvas:
    width: float
    height: float
    nodes: list[NodeBox]
    edges: list[EdgeLine]

    def node(self, node_id: str) -> NodeBox:
        return next(n for n in self.nodes if n.id == node_id)


def _edges(definition: dict[str, Any], ids: set[str]) -> list[tuple[int, str, str, str]]:
    result = []
    for index, edge in enumerate(definition.get("edges") or []):
        if isinstance(edge, dict) and edge.get("from") in ids and edge.get("to") in ids:
            result.append((index, edge["from"], edge.get("outlet", "out"), edge["to"]))
    return result


def assign_layers(ids: list[str], edges: list[tuple[int, str, str, str]]) -> dict[str, int]:
    """Row of each activity: 0 for a root (the Start, or an activity nothing feeds), else
    one below its lowest feeder. An edge closing a cycle is ignored, so this always ends."""
    parents: dict[str, list[str]] = {n: [] for n in ids}
    for _, src, _, dst in edges:
        if src != dst:
            parents[dst].append(src)
    return graphlayout.assign_layers(ids, parents)


def _order_rows(ids: list[str], layers: dict[str, int], edges) -> list[list[str]]:
    # The definition's order is the starting order: a new activity appears where it was added.
    rows = graphlayout.rows_by_layer(ids, layers)
    up: dict[str, list[tuple[str, float]]] = {n: [] for n in ids}
    down: dict[str, list[tuple[str, float]]] = {n: [] for n in ids}
    outlet_rank: dict[tuple[str, str], int] = {}
    for _, src, outlet, dst in edges:
        rank = outlet_rank.setdefault((src, outlet), len([k for k in outlet_rank if k[0] == src]))
        # The outlet's rank nudges branches of one activity apart in outlet order.
        up[dst].append((src, rank * 0.01))
        down[src].append((dst, 0))
    return graphlayout.order_rows(rows, up, down)


def layout(definition: dict[str, Any], *, counts: dict[tuple[str, str, str], int | None] | None = None,
           statuses: dict[str, str] | None = None, problems: dict[str, list[str]] | None = None,
           selected_node: str | None = None, selected_edge: int | None = None,
           summaries: dict[str, str] | None = None) -> Canvas:
    """Place the activities of a definition and route its edges. `counts` are the rows on
    each edge (from, outlet, to) after a run, `statuses` each activity's status in a run,
    `problems` the validation messages per activity."""
    counts, statuses, problems, summaries = counts or {}, statuses or {}, problems or {}, summaries or {}
    raw = [n for n in (definition.get("nodes") or []) if isinstance(n, dict) and isinstance(n.get("id"), str)]
    nodes = {}
    for n in raw:
        nodes.setdefault(n["id"], n)
    ids = list(nodes)
    edges = _edges(definition, set(ids))
    layers = assign_layers(ids, edges)
    rows = _order_rows(ids, layers, edges)

    boxes: dict[str, NodeBox] = {}
    for node_id in ids:
        node = nodes[node_id]
        activity = REGISTRY.get(node.get("type"))
        settings = node.get("settings") if isinstance(node.get("settings"), dict) else {}
        outlets = activity.outlets(settings) if activity else []
        used = {(src, outlet) for _, src, outlet, _ in edges}
        boxes[node_id] = NodeBox(
            id=node_id, type=str(node.get("type")), layer=layers[node_id],
            label=node.get("label") or (activity.label if activity else str(node.get("type"))),
            outlets=outlets, free_outlets=[o for o in outlets if (node_id, o) not in used],
            outlet_labels=activity.outlet_labels(settings) if activity else {},
            status=statuses.get(node_id, ""), problems=problems.get(node_id, []), selected=node_id == selected_node,
            summary=summaries.get(node_id, ""))
    parents: dict[str, list[str]] = {n: [] for n in ids}
    for _, src, _, dst in edges:
        if layers[src] < layers[dst]:
            parents[dst].append(src)
    # Each activity as near as it can be to under the middle of what feeds it.
    left = graphlayout.place_under_parents(rows, parents, NODE_W + H_GAP)
    shift = MARGIN - min(left.values(), default=MARGIN)
    width = max(MIN_WIDTH, max((x + NODE_W for x in left.values()), default=0) + shift + MARGIN)
    tops, height = graphlayout.stack_rows([NODE_H] * len(rows), margin=MARGIN, gap=V_GAP)
    for row, top in zip(rows, tops, strict=True):
        for node_id in row:
            box = boxes[node_id]
            box.x, box.y = round(left[node_id] + shift), top

    # Each activity's outgoing edges leave its bottom side spread in the order of their
    # targets, and arrive spread on the target's top side in the order of their sources.
    outgoing: dict[str, list[int]] = {}
    incoming: dict[str, list[int]] = {}
    for k, (_, src, _, dst) in enumerate(edges):
        outgoing.setdefault(src, []).append(k)
        incoming.setdefault(dst, []).append(k)
    start_at: dict[int, tuple[float, float]] = {}
    end_at: dict[int, tuple[float, float]] = {}
    for src, ks in outgoing.items():
        box = boxes[src]
        ks.sort(key=lambda k: (boxes[edges[k][3]].cx, k))
        for k, x in zip(ks, spread(len(ks), box.x, box.w), strict=True):
            start_at[k] = (round(x, 1), box.bottom)
    for dst, ks in incoming.items():
        box = boxes[dst]
        ks.sort(key=lambda k: (boxes[edges[k][1]].cx, k))
        for k, x in zip(ks, spread(len(ks), box.x, box.w), strict=True):
            end_at[k] = (round(x, 1), box.y)
    row_of = {n: i for i, row in enumerate(rows) for n in row}
    lines = []
    for k, (index, src, outlet, dst) in enumerate(edges):
        p0, p3 = start_at[k], end_at[k]
        between = [boxes[n] for row in rows[row_of[src] + 1:row_of[dst]] for n in row]
        if p3[1] > p0[1] and between:
            # Skipping rows: an orthogonal route through the gaps, clear of every box on the way.
            path, mid = _route_around(p0, p3, between)
        elif p3[1] > p0[1]:
            bend = max(30.0, (p3[1] - p0[1]) / 2)
            p1, p2 = (p0[0], p0[1] + bend), (p3[0], p3[1] - bend)
        else:  # an edge going up (a cycle in a broken draft): loop around the side
            side = max(b.x + b.w for b in boxes.values()) + 30
            p1, p2 = (side, p0[1] + 40), (side, p3[1] - 40)
        if not (p3[1] > p0[1] and between):
            path = cubic_path(p0, p1, p2, p3)
            mid = bezier_point(p0, p1, p2, p3, 0.5)
        lines.append(EdgeLine(index=index, source=src, outlet=outlet, target=dst, path=path,
                              label_at=(round(mid[0], 1), round(mid[1], 1)), count=counts.get((src, outlet, dst)),
                              selected=index == selected_edge, outlet_label=boxes[src].outlet_labels.get(outlet, "")))
    ordered = [boxes[n] for row in rows for n in row]
    return Canvas(width=round(width), height=round(height), nodes=ordered, edges=lines)


CLEARANCE = 12  # how far a routed edge keeps from a box it passes


def _route_around(p0: tuple[float, float], p3: tuple[float, float], between: list[NodeBox],
                  ) -> tuple[str, tuple[float, float]]:
    """An edge that skips rows: down into the gap below its source, across to a lane that
    no box of the rows in between touches (the free x nearest to both ends: a gap between
    two boxes, or beside the outermost one), down the lane, across in the gap above the
    target, down into it. Returns the SVG path and where its label goes (on the lane)."""
    def free(x: float) -> bool:
        return all(not (b.x - CLEARANCE < x < b.x + b.w + CLEARANCE) for b in between)

    candidates = {p0[0], p3[0], (p0[0] + p3[0]) / 2}
    for b in between:
        candidates |= {b.x - H_GAP / 2, b.x + b.w + H_GAP / 2}
    lane = min((x for x in candidates if free(x)), key=lambda x: (abs(x - p0[0]) + abs(x - p3[0]), x))
    top = p0[1] + V_GAP / 2 - 10  # above the labels of the row's own edges, which sit mid-gap
    bottom = p3[1] - V_GAP / 2 + 10
    points = [p0, (p0[0], top), (lane, top), (lane, bottom), (p3[0], bottom), p3]
    # Drop points that do not turn (a straight run down when the lane is above the source).
    kept = [points[0]]
    for point in points[1:]:
        if point != kept[-1]:
            kept.append(point)
    path = f"M {fmt(kept[0][0])} {fmt(kept[0][1])}" + "".join(f" L {fmt(x)} {fmt(y)}" for x, y in kept[1:])
    return path, (round(lane, 1), round((top + bottom) / 2, 1))


def summarize(definition: dict[str, Any], audience_names: dict[int, str] | None = None) -> dict[str, str]:
    """A few words per activity on what its settings say: the audience, the operation..."""
    names = audience_names or {}
    result = {}
    for node in definition.get("nodes") or []:
        if not isinstance(node, dict) or not isinstance(node.get("settings"), dict):
            continue
        settings, kind = node["settings"], node.get("type")
        text = ""
        if kind in ("build_audience", "read_audience") and isinstance(settings.get("audience"), int):
            text = names.get(settings["audience"], f"audience #{settings['audience']}")
        elif kind == "build_audience" and isinstance(settings.get("definition"), dict):
            text = f"rule on {settings['definition'].get('entity', '?')}"
        elif kind == "combine" and settings.get("operation"):
            text = str(settings["operation"])
        elif kind == "split" and isinstance(settings.get("subsets"), list):
            text = f"{len(settings['subsets'])} subset(s)"
        elif kind == "deduplicate" and isinstance(settings.get("fields"), list):
            text = "by " + ", ".join(map(str, settings["fields"]))
        elif kind == "change_dimension" and isinstance(settings.get("path"), list):
            text = "→ " + ".".join(map(str, settings["path"]))
        elif kind == "fork" and settings.get("branches"):
            text = f"{settings['branches']} branches"
        elif kind == "wait" and settings.get("until"):
            text = f"until {settings['until']}"
        elif kind == "wait" and settings.get("amount"):
            text = f"{settings['amount']} {settings.get('unit', 'minutes')}"
        elif kind == "save_audience" and settings.get("name"):
            text = f"as {settings['name']}"
        elif kind == "enrichment":
            columns = sum(len(settings.get(k) or []) for k in ("attributes", "aggregates", "first"))
            text = f"{columns} column(s)" if columns else ""
        if text:
            result[node["id"]] = text
    return result
