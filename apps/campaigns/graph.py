"""A campaign definition checked as a graph, each problem naming its activity:
{"nodes": [{"id", "type", "settings", "label"?, "position"?}], "edges": [{"from", "outlet", "to"}]}.
The structure is checked first against the JSON Schema (definition.schema.json); then the
graph, and each activity's settings against the data model, trigger-variable
placeholders ({"$var": ...}) standing for their defaults (variables.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

from apps.datamodel.schema import Schema

from .activities import REGISTRY, SettingsError
from .definition_schema import schema_problems
from .variables import placeholders, substitute

MAX_ACTIVITIES = 500
NODE_ID = re.compile(r"^[a-z][a-z0-9_]{0,29}$")


class GraphError(ValidationError):
    plan: Plan | None = None

    def __init__(self, problems: list[dict[str, str]]):
        self.problems = problems
        super().__init__([f"{p['node']}: {p['message']}" if p.get("node") else p["message"] for p in problems])


@dataclass
class Plan:
    nodes: dict[str, dict[str, Any]]
    order: list[str]  # topological
    inputs: dict[str, list[tuple[str, str]]]  # node -> [(from node, outlet)] in edge order
    successors: dict[str, list[str]]
    outlet_entities: dict[tuple[str, str], str | None] = field(default_factory=dict)


# A campaign is one communication, not a programme: past ten sends it is several campaigns
# (and each send is a delivery with its own consent pass and report).
MAX_CHANNEL_ACTIVITIES = 10
ON_EMPTY = ("continue", "stop")


def channel_limit_problem(nodes) -> str | None:
    """The guardrail on channel activities (checked at publish, listed on the canvas)."""
    channels = sum(1 for n in nodes if isinstance(n, dict) and n.get("type") in REGISTRY
                   and REGISTRY[n["type"]].sends)
    if channels <= MAX_CHANNEL_ACTIVITIES:
        return None
    return (f"a campaign sends through at most {MAX_CHANNEL_ACTIVITIES} channel activities; this one has "
            f"{channels}: split it into several campaigns.")


def check_graph(*, workspace, definition: Any, schema: Schema | None = None, complete: bool = True,
                publishing: bool = False) -> Plan:
    """Raise GraphError listing every problem; `complete` also demands what publishing
    needs (every activity configured, no dangling outlet)."""
    schema = schema or Schema.load(workspace)
    problems: list[dict[str, str]] = schema_problems(definition)
    if problems:
        raise GraphError(problems)

    def fail(node: str | None, message: str) -> None:
        problems.append({"node": node or "", "message": message})

    if not isinstance(definition, dict) or not isinstance(definition.get("nodes"), list):
        raise GraphError([{"node": "", "message": "a campaign needs a list of activities ('nodes')."}])
    raw_nodes, raw_edges = definition.get("nodes") or [], definition.get("edges") or []
    if len(raw_nodes) > MAX_ACTIVITIES:
        raise GraphError([{"node": "", "message": f"a campaign holds at most {MAX_ACTIVITIES} activities."}])
    nodes: dict[str, dict[str, Any]] = {}
    for index, node in enumerate(raw_nodes):
        node_id = node.get("id") if isinstance(node, dict) else None
        if not isinstance(node_id, str) or not NODE_ID.match(node_id):
            fail(f"nodes[{index}]", "an activity id is 1-30 lowercase letters, digits or _, starting with a letter.")
            continue
        if node_id in nodes:
            fail(node_id, "two activities have this id.")
            continue
        if node.get("type") not in REGISTRY:
            fail(node_id, f"unknown activity type {node.get('type')!r}.")
            continue
        if not isinstance(node.get("settings", {}), dict):
            fail(node_id, "settings must be an object.")
            continue
        if (node.get("settings") or {}).get("on_empty", "continue") not in ON_EMPTY:
            fail(node_id, "on_empty is 'continue' or 'stop' (what an empty audience does to the branch).")
            continue
        nodes[node_id] = {"id": node_id, "type": node["type"], "settings": node.get("settings") or {},
                          "label": node.get("label") or REGISTRY[node["type"]].label}
    starts = [n for n in nodes.values() if REGISTRY[n["type"]].is_start]
    if len(starts) != 1 and (complete or len(starts) > 1):
        fail(None, f"a campaign has exactly one Start; this one has {len(starts)}.")
    inputs: dict[str, list[tuple[str, str]]] = {n: [] for n in nodes}
    successors: dict[str, list[str]] = {n: [] for n in nodes}
    used_outlets: set[tuple[str, str]] = set()
    for index, edge in enumerate(raw_edges):
        if not isinstance(edge, dict):
            fail(f"edges[{index}]", "an edge is an object with from, outlet and to.")
            continue
        src, dst, outlet = edge.get("from"), edge.get("to"), edge.get("outlet", "out")
        if src not in nodes or dst not in nodes:
            fail(f"edges[{index}]", f"the edge {src!r} -> {dst!r} names an unknown activity.")
            continue
        if outlet not in REGISTRY[nodes[src]["type"]].outlets(nodes[src]["settings"]):
            fail(src, f"has no outlet {outlet!r}.")
            continue
        if (src, outlet) in used_outlets and REGISTRY[nodes[src]["type"]].type != "start":
            fail(src, f"outlet {outlet!r} is connected twice: use a Fork to send rows down two branches.")
            continue
        used_outlets.add((src, outlet))
        inputs[dst].append((src, outlet))
        successors[src].append(dst)
    too_many = channel_limit_problem(nodes.values())
    if publishing and too_many:
        fail(None, too_many)
    order = _topological(nodes, successors, fail)
    plan = Plan(nodes=nodes, order=order, inputs=inputs, successors=successors)
    if not complete:
        # A draft on the canvas may be half-built: only what would make it unreadable counts.
        if problems:
            raise GraphError(problems)
        return plan
    if order and starts:
        reachable = _reachable(starts[0]["id"], successors)
        for node_id in nodes:
            if node_id not in reachable:
                fail(node_id, "is not connected to the Start.")
    for node_id in order:
        node = nodes[node_id]
        activity = REGISTRY[node["type"]]
        count = len(inputs[node_id])
        if count < activity.min_inputs or (activity.max_inputs is not None and count > activity.max_inputs):
            wanted = (f"{activity.min_inputs}" if activity.max_inputs == activity.min_inputs else
                      f"{activity.min_inputs} or more" if activity.max_inputs is None else
                      f"{activity.min_inputs} to {activity.max_inputs}")
            if not (activity.type == "build_audience" and count <= 1):
                fail(node_id, f"{activity.label} takes {wanted} input(s); it has {count}.")
                continue
        input_entities = [plan.outlet_entities.get(i) for i in inputs[node_id]]
        data_inputs = [e for e in input_entities if e is not None]
        if activity.min_inputs and len(data_inputs) != len(input_entities):
            # No entity on an input: it comes from the Start, or from an activity whose own
            # problem is already reported (naming it again here would blame the wrong one).
            if any(REGISTRY[nodes[src]["type"]].is_start for src, _ in inputs[node_id]):
                fail(node_id, f"{activity.label} needs rows as input, not the Start directly.")
            continue
        # Trigger variables: checked with their defaults (a placeholder without one as null).
        settings = substitute(node["settings"], {}, node_id=node_id, strict=False)
        try:
            outlet_entities = activity.check(settings, data_inputs, schema) if (
                data_inputs or not activity.min_inputs) else {}
            if publishing and data_inputs:
                # What only a live run needs (a channel's content, its topic): test runs go without.
                activity.publish_check(settings, data_inputs, schema)
        except SettingsError as exc:
            bare = sorted({p["$var"] for p in placeholders(node["settings"]) if "default" not in p})
            hint = (f" (checked with the variable(s) {', '.join(bare)} empty: give each placeholder a "
                    "\"default\" to check it with)") if bare else ""
            fail(node_id, f"{exc}{hint}")
            continue
        for outlet in activity.outlets(settings):
            plan.outlet_entities[(node_id, outlet)] = outlet_entities.get(outlet)
            if (node_id, outlet) not in used_outlets and not outlet.startswith("_"):
                fail(node_id, f"outlet {outlet!r} leads nowhere: connect it (an End closes a branch).")
    if problems:
        error = GraphError(problems)
        error.plan = plan  # what could be worked out (the canvas panels read the entities reaching a node)
        raise error
    return plan


def _topological(nodes, successors, fail) -> list[str]:
    indegree = {n: 0 for n in nodes}
    for targets in successors.values():
        for t in targets:
            indegree[t] += 1
    ready = [n for n in nodes if indegree[n] == 0]
    order = []
    while ready:
        n = ready.pop(0)
        order.append(n)
        for t in successors[n]:
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    if len(order) != len(nodes):
        cyclic = sorted(n for n in nodes if n not in order)
        fail(cyclic[0], f"the activities {', '.join(cyclic)} form a cycle.")
        return []
    return order


def _reachable(start: str, successors) -> set[str]:
    seen, stack = {start}, [start]
    while stack:
        for t in successors[stack.pop()]:
            if t not in seen:
                seen.add(t)
                stack.append(t)
    return seen
