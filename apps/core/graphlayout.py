"""A layered layout of a directed graph, for the diagrams drawn as SVG on the server
(the campaign canvas, the entity-relationship diagram): pure geometry, no database.

1. Layers: a node with no parent is on row 0, every other node one row below its lowest
   parent (the longest path from a root), so every edge points one way.
2. Order: within a row, nodes follow the mean position of their neighbours in the row
   above, then in the row below (a few sweeps), which keeps most edges uncrossed.
3. Coordinates: rows stacked top to bottom; within a row either centred (boxes of any
   width) or each node under the middle of its parents (boxes of one width); edges as
   cubic curves whose ends are spread along the sides they touch.

A caller says what a parent is (the canvas: what feeds an activity; the diagram: the
entity a link points to) and in which order ties fall, so each keeps its own look."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

N = TypeVar("N", bound=Hashable)
Point = tuple[float, float]


# --- layers -------------------------------------------------------------------------------

def assign_layers(nodes: Iterable[N], parents: Mapping[N, Iterable[N]]) -> dict[N, int]:
    """Row of each node: 0 for a node with no parent, else one below its lowest parent.
    Nodes and parents are visited in the order given; an edge that closes a cycle (found
    in that order) is ignored, so this always ends."""
    layer: dict[N, int] = {}
    visiting: set[N] = set()

    def depth(node: N) -> int:
        if node in layer:
            return layer[node]
        if node in visiting:
            return -1  # the edge closing a cycle pushes nothing down
        visiting.add(node)
        found = [depth(p) for p in parents.get(node, ())]
        visiting.discard(node)
        layer[node] = 1 + max(found) if found else 0
        return layer[node]

    for node in nodes:
        depth(node)
    return layer


def rows_by_layer(nodes: Iterable[N], layers: Mapping[N, int]) -> list[list[N]]:
    """The nodes of each layer, top row first, each row in the order of `nodes`."""
    nodes = list(nodes)
    count = max(layers.values(), default=-1) + 1
    return [[n for n in nodes if layers[n] == i] for i in range(count)]


# --- order within rows --------------------------------------------------------------------

def order_rows(rows: list[list[N]], up: Mapping[N, Sequence[tuple[N, float]]],
               down: Mapping[N, Sequence[tuple[N, float]]], *, tiebreak: Callable[[N], Any] | None = None,
               sweeps: int = 2) -> list[list[N]]:
    """Reorder each row by the mean position of each node's neighbours: in the row above
    (`up`, sweeping down), then in the row below (`down`, sweeping up), `sweeps` times.
    A neighbour is (node, nudge): the nudge is added to its position (e.g. to keep the
    branches of one node in outlet order). A node with no placed neighbour keeps its
    place; ties fall by `tiebreak(node)`, else by the current order. Returns new rows."""
    rows = [list(row) for row in rows]

    def sweep(row: list[N], neighbours: Mapping[N, Sequence[tuple[N, float]]],
              position: dict[N, int]) -> list[N]:
        def weight(node: N) -> tuple[float, Any]:
            placed = [position[n] + nudge for n, nudge in neighbours.get(node, ()) if n in position]
            mean = sum(placed) / len(placed) if placed else float(row.index(node))
            return mean, (tiebreak(node) if tiebreak else row.index(node))

        return sorted(row, key=weight)

    for _ in range(sweeps):
        for i in range(1, len(rows)):
            position = {n: j for j, n in enumerate(rows[i - 1])}
            rows[i] = sweep(rows[i], up, position)
        for i in range(len(rows) - 2, -1, -1):
            position = {n: j for j, n in enumerate(rows[i + 1])}
            rows[i] = sweep(rows[i], down, position)
    return rows


# --- coordinates --------------------------------------------------------------------------

def stack_rows(heights: Sequence[float], *, margin: float, gap: float) -> tuple[list[float], float]:
    """The top of each row, rows `gap` apart below a `margin`, and the total height
    (margins included; two margins when there is no row)."""
    tops = []
    y = margin
    for height in heights:
        tops.append(y)
        y += height + gap
    return tops, (y - gap + margin) if heights else 2 * margin


def row_width(row: Sequence[N], widths: Mapping[N, float], gap: float) -> float:
    return sum(widths[n] for n in row) + gap * max(0, len(row) - 1)


def centre_rows(rows: Sequence[Sequence[N]], widths: Mapping[N, float], *, gap: float, left: float,
                span: float) -> dict[N, float]:
    """The left x of each node: each row's boxes `gap` apart, the row centred in `span`
    from `left`."""
    xs: dict[N, float] = {}
    for row in rows:
        x = left + (span - row_width(row, widths, gap)) / 2
        for node in row:
            xs[node] = x
            x += widths[node] + gap
    return xs


def place_under_parents(rows: Sequence[Sequence[N]], parents: Mapping[N, Sequence[N]],
                        step: float) -> dict[N, float]:
    """The left x of each node for boxes of one width (`step` = width + gap): the first
    row, and a row none of whose nodes has a parent, side by side from 0; in the other
    rows each node as near as it can be to under the middle of its parents (placed in
    the rows above), in the row's order, without overlaps: neighbours that would overlap
    form a block centred on the mean of their wishes (so two branches of one node sit
    symmetrically under it). May be negative: the caller shifts the drawing."""
    left: dict[N, float] = {}
    for i, row in enumerate(rows):
        if i == 0 or not any(parents.get(n) for n in row):
            for j, node in enumerate(row):
                left[node] = j * step
            continue
        left.update(_place_row(row, parents, left, step))
    return left


def _place_row(row: Sequence[N], parents: Mapping[N, Sequence[N]], left: dict[N, float],
               step: float) -> dict[N, float]:
    wish: dict[N, float] = {}
    for j, node in enumerate(row):
        placed = [left[p] for p in parents.get(node, ()) if p in left]
        wish[node] = sum(placed) / len(placed) if placed else (wish[row[j - 1]] + step if j else 0.0)
    blocks: list[list[N]] = []
    block_left: list[float] = []
    for node in row:
        blocks.append([node])
        block_left.append(wish[node])
        while len(blocks) > 1 and block_left[-1] < block_left[-2] + len(blocks[-2]) * step:
            merged = blocks[-2] + blocks[-1]
            blocks[-2:] = [merged]
            block_left[-2:] = [sum(wish[n] - k * step for k, n in enumerate(merged)) / len(merged)]
    return {n: x + k * step for block, x in zip(blocks, block_left, strict=True) for k, n in enumerate(block)}


def spread(n: int, start: float, length: float) -> list[float]:
    """n attachment points spread evenly along a side, away from its corners."""
    return [start + length * (i + 1) / (n + 1) for i in range(n)]


def bezier_point(p0: Point, p1: Point, p2: Point, p3: Point, t: float) -> Point:
    """The point at `t` (0..1) of the cubic curve p0 -> p3 with control points p1, p2."""
    u = 1 - t
    return (u ** 3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t ** 3 * p3[0],
            u ** 3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t ** 3 * p3[1])


def fmt(value: float) -> str:
    """A coordinate as written in SVG path data: one decimal at most, no trailing zero."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def cubic_path(p0: Point, p1: Point, p2: Point, p3: Point) -> str:
    """SVG path data of the cubic curve p0 -> p3 with control points p1, p2."""
    return "M {} {} C {} {}, {} {}, {} {}".format(*(fmt(v) for v in (*p0, *p1, *p2, *p3)))
