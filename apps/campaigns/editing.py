"""Canvas edits as pure functions on a definition: each returns a new definition (the
input is never changed), or raises EditError in words for the marketer. The caller saves
the result with services.draft_save, which checks it as a graph."""

from __future__ import annotations

import copy
from typing import Any

from .activities import REGISTRY
from .graph import NODE_ID


class EditError(ValueError):
    pass


def _copy(definition: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(definition) if isinstance(definition, dict) else {}
    result.setdefault("nodes", [])
    result.setdefault("edges", [])
    return result


def _node(definition: dict[str, Any], node_id: str) -> dict[str, Any]:
    for node in definition["nodes"]:
        if isinstance(node, dict) and node.get("id") == node_id:
            return node
    raise EditError(f"There is no activity {node_id!r} (the canvas may be out of date: reload it).")


def _outlets(node: dict[str, Any]) -> list[str]:
    activity = REGISTRY.get(node.get("type"))
    return activity.outlets(node.get("settings") or {}) if activity else []


def new_id(definition: dict[str, Any], activity_type: str) -> str:
    """A readable id not yet used: split, split2, split3..."""
    taken = {n.get("id") for n in definition.get("nodes") or [] if isinstance(n, dict)}
    base = activity_type[:26]
    if base not in taken:
        return base
    n = 2
    while f"{base}{n}" in taken:
        n += 1
    return f"{base}{n}"


def _new_node(definition: dict[str, Any], activity_type: str) -> dict[str, Any]:
    activity = REGISTRY.get(activity_type)
    if activity is None or activity.is_start:
        raise EditError("Choose an activity to add.")
    return {"id": new_id(definition, activity_type), "type": activity_type, "settings": {}}


def _connected(definition, node_id: str, outlet: str) -> list[dict[str, Any]]:
    return [e for e in definition["edges"] if e.get("from") == node_id and e.get("outlet", "out") == outlet]


def add_after(definition: dict[str, Any], *, node_id: str, outlet: str | None, activity_type: str,
              ) -> tuple[dict[str, Any], str]:
    """A new activity fed by `node_id`'s outlet. If that outlet already leads somewhere,
    the new activity is inserted in between. Returns the definition and the new id."""
    result = _copy(definition)
    source = _node(result, node_id)
    outlets = _outlets(source)
    if not outlets:
        raise EditError(f"{source.get('label') or node_id} has no outlet: nothing can follow it.")
    if not outlet:
        free = [o for o in outlets if not _connected(result, node_id, o)]
        outlet = free[0] if free else outlets[0]
    if outlet not in outlets:
        raise EditError(f"{node_id} has no outlet {outlet!r}.")
    node = _new_node(result, activity_type)
    result["nodes"].append(node)
    existing = _connected(result, node_id, outlet)
    if existing and source.get("type") != "start":
        # Insert on the existing edge: the rows now pass through the new activity.
        return _insert(result, result["edges"].index(existing[0]), node), node["id"]
    result["edges"].append({"from": node_id, "outlet": outlet, "to": node["id"]})
    return result, node["id"]


def _insert(result: dict[str, Any], index: int, node: dict[str, Any]) -> dict[str, Any]:
    edge = result["edges"][index]
    outlets = _outlets(node)
    result["edges"][index] = {"from": edge["from"], "outlet": edge.get("outlet", "out"), "to": node["id"]}
    if outlets:
        result["edges"].insert(index + 1, {"from": node["id"], "outlet": outlets[0], "to": edge["to"]})
    return result


def add_on_edge(definition: dict[str, Any], *, edge_index: int, activity_type: str) -> tuple[dict[str, Any], str]:
    """A new activity in the middle of an edge: from -> new -> to."""
    result = _copy(definition)
    if not 0 <= edge_index < len(result["edges"]):
        raise EditError("That connection no longer exists (the canvas may be out of date: reload it).")
    node = _new_node(result, activity_type)
    result["nodes"].append(node)
    return _insert(result, edge_index, node), node["id"]


def remove(definition: dict[str, Any], *, node_id: str) -> dict[str, Any]:
    """Remove an activity and its edges. An activity with one input and one connected
    outlet is bridged: its feeder connects to what followed it."""
    result = _copy(definition)
    node = _node(result, node_id)
    if REGISTRY.get(node.get("type")) is not None and REGISTRY[node["type"]].is_start:
        raise EditError("The Start cannot be removed: every campaign begins there.")
    into = [e for e in result["edges"] if e.get("to") == node_id]
    out_of = [e for e in result["edges"] if e.get("from") == node_id]
    result["nodes"] = [n for n in result["nodes"] if n is not node]
    result["edges"] = [e for e in result["edges"] if node_id not in (e.get("from"), e.get("to"))]
    if len(into) == 1 and len(out_of) == 1:
        result["edges"].append({"from": into[0]["from"], "outlet": into[0].get("outlet", "out"),
                                "to": out_of[0]["to"]})
    return result


def connect(definition: dict[str, Any], *, node_id: str, outlet: str, target: str) -> dict[str, Any]:
    """Connect an outlet to an activity (an outlet leads to one activity: an existing edge
    on it is replaced; the Start may feed several)."""
    result = _copy(definition)
    source = _node(result, node_id)
    _node(result, target)
    if target == node_id:
        raise EditError("An activity cannot feed itself.")
    if outlet not in _outlets(source):
        raise EditError(f"{node_id} has no outlet {outlet!r}.")
    if any(e.get("from") == node_id and e.get("outlet", "out") == outlet and e.get("to") == target
           for e in result["edges"]):
        raise EditError(f"{node_id} ({outlet}) already leads to {target}.")
    if source.get("type") != "start":
        result["edges"] = [e for e in result["edges"]
                           if not (e.get("from") == node_id and e.get("outlet", "out") == outlet)]
    result["edges"].append({"from": node_id, "outlet": outlet, "to": target})
    return result


def disconnect(definition: dict[str, Any], *, edge_index: int) -> dict[str, Any]:
    result = _copy(definition)
    if not 0 <= edge_index < len(result["edges"]):
        raise EditError("That connection no longer exists (the canvas may be out of date: reload it).")
    del result["edges"][edge_index]
    return result


def configure(definition: dict[str, Any], *, node_id: str, settings: dict[str, Any], label: str = "",
              new_node_id: str = "") -> dict[str, Any]:
    """New settings (and label) for an activity. Edges on outlets that no longer exist
    (a split subset renamed or removed) are dropped. An id change renames its edges."""
    result = _copy(definition)
    node = _node(result, node_id)
    node["settings"] = settings
    if label.strip():
        node["label"] = label.strip()[:60]
    else:
        node.pop("label", None)
    outlets = set(_outlets(node))
    result["edges"] = [e for e in result["edges"]
                       if e.get("from") != node_id or e.get("outlet", "out") in outlets]
    new_node_id = new_node_id.strip()
    if new_node_id and new_node_id != node_id:
        if not NODE_ID.match(new_node_id):
            raise EditError("An id is 1-30 lowercase letters, digits or _, starting with a letter.")
        if any(n.get("id") == new_node_id for n in result["nodes"] if isinstance(n, dict)):
            raise EditError(f"Another activity already has the id {new_node_id!r}.")
        node["id"] = new_node_id
        for edge in result["edges"]:
            for end in ("from", "to"):
                if edge.get(end) == node_id:
                    edge[end] = new_node_id
    return result
