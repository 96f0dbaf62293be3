"""The canvas editor. The definition is the single source of truth: every action posts the
definition the page shows (a hidden JSON field) and the action; the server applies the
action (editing.py), saves the draft (services.draft_save, which checks the graph) and
returns the editor region. The definitions before each change are kept in the session,
so "Undo" restores the previous one (several times over)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from apps.audiences.selectors import audience_list
from apps.core.htmx import htmx_target, partial_name, render_region
from apps.core.inputs import json_loads_checked
from apps.tenants.decorators import can_approve, can_edit, workspace_view

from .. import editing, services
from ..activities import REGISTRY
from ..canvas import layout, summarize
from ..forms import DefinitionForm, settings_form
from ..graph import GraphError, channel_limit_problem, check_graph
from ..models import CampaignStatus
from ..selectors import access_campaign, edge_counts, run_list, version_list

UNDO_DEPTH = 20  # definitions are small; twenty steps back is more than a session of edits needs
ACTIONS = ("add", "insert", "remove", "connect", "disconnect", "configure", "undo", "replace")


def _undo_key(campaign) -> str:
    return f"campaign-undo:{campaign.pk}"


def problems_of(workspace, definition: dict[str, Any]) -> tuple[dict[str, list[str]], list[str]]:
    """What publishing would refuse, per activity, and the problems naming none (the
    guardrail on channel activities among them; what only a live run needs is checked at
    publish)."""
    nodes = definition.get("nodes") if isinstance(definition, dict) else None
    too_many = channel_limit_problem(nodes if isinstance(nodes, list) else [])
    limit = [too_many] if too_many else []
    try:
        check_graph(workspace=workspace, definition=definition, complete=True)
    except GraphError as exc:
        by_node: dict[str, list[str]] = {}
        general = list(limit)
        for problem in exc.problems:
            node = problem.get("node") or ""
            if node and not node.startswith(("nodes[", "edges[")):
                by_node.setdefault(node, []).append(problem["message"])
            else:
                general.append(f"{node}: {problem['message']}" if node else problem["message"])
        return by_node, general
    return {}, limit


def readable(definition: dict[str, Any]) -> str:
    """The definition as people write it: nodes first, each id/type/label/settings, edges
    from/outlet/to (the database hands keys back in its own order)."""
    def ordered(item: Any, keys: tuple[str, ...]) -> Any:
        if not isinstance(item, dict):
            return item
        return {**{k: item[k] for k in keys if k in item}, **{k: v for k, v in item.items() if k not in keys}}

    doc = {"nodes": [ordered(n, ("id", "type", "label", "settings")) for n in definition.get("nodes") or []],
           "edges": [ordered(e, ("from", "outlet", "to")) for e in definition.get("edges") or []]}
    doc.update({k: v for k, v in definition.items() if k not in doc})
    return json.dumps(doc, indent=2, ensure_ascii=False)


def audience_names(workspace, definition: dict[str, Any]) -> dict[int, str]:
    """The names of the saved audiences a definition reads (one query, none when it reads none)."""
    ids = {n["settings"]["audience"] for n in definition.get("nodes") or [] if isinstance(n, dict)
           and isinstance(n.get("settings"), dict) and isinstance(n["settings"].get("audience"), int)}
    if not ids:
        return {}
    return dict(audience_list(workspace=workspace).filter(pk__in=ids).values_list("pk", "name"))


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def editor_context(request, campaign, *, definition: dict | None = None, selected: str | None = None,
                   edge: int | None = None, form=None, json_form=None, error: str = "", notice: str = "") -> dict:
    ws = request.workspace
    versions = list(version_list(campaign=campaign)[:10])
    version = versions[0]
    definition = definition if definition is not None else version.definition
    nodes = {n["id"]: n for n in definition.get("nodes", []) if isinstance(n, dict) and "id" in n}
    if selected not in nodes:
        selected = None
    edges = definition.get("edges", [])
    if edge is not None and not 0 <= edge < len(edges):
        edge = None
    by_node, general = problems_of(ws, definition)
    runs = list(run_list(campaign=campaign)[:5])
    counts = edge_counts(run=runs[0]) if runs else {}
    canvas = layout(definition, counts=counts, problems=by_node, selected_node=selected, selected_edge=edge,
                    summaries=summarize(definition, audience_names(ws, definition)))
    editable = can_edit(request) and campaign.status != CampaignStatus.ARCHIVED
    node = nodes.get(selected) if selected else None
    if node is not None and form is None and editable:
        needs_audiences = node.get("type") in ("build_audience", "read_audience")
        audiences = audience_list(workspace=ws).select_related("entity") if needs_audiences else ()
        form = settings_form(node, audiences=audiences, workspace=ws, campaign_definition=definition)
    box = canvas.node(selected) if node else None
    return {
        "campaign": campaign,
        "version": version,
        "versions": versions,
        "definition": definition,
        "definition_json": json.dumps(definition, separators=(",", ":")),
        "canvas": canvas,
        "problems": by_node,
        "general_problems": general,
        "problem_count": sum(len(v) for v in by_node.values()) + len(general),
        "selected": node,
        "selected_box": box,
        "selected_problems": by_node.get(selected, []) if selected else [],
        "selected_edge": edges[edge] | {"index": edge} if edge is not None else None,
        "form": form,
        "json_form": json_form or DefinitionForm(initial={"document": readable(definition)}),
        "catalog": [(a.type, a.label) for a in REGISTRY.values() if not a.is_start],
        "targets": [n for n in nodes.values() if n["id"] != selected and n.get("type") != "start"],
        "runs": runs,
        "last_run": runs[0] if runs else None,
        # what "Start" runs: the latest published version (a newer draft does not run live)
        "published_version": next((v for v in versions if v.is_published), None),
        "can_edit": editable,
        "can_approve": can_approve(request),
        "can_undo": bool(request.session.get(_undo_key(campaign))),
        "error": error,
        "notice": notice,
        "detail_url": reverse("camp-detail", kwargs={"workspace_slug": ws.slug, "pk": campaign.pk}),
    }


@vary_on_headers("HX-Request")
@require_GET
@workspace_view()
def campaign_detail(request, workspace_slug, pk):
    """The canvas with the selected activity's panel (?node=id) or connection (?edge=n)."""
    campaign = access_campaign(request.user, request.workspace, pk)
    return detail_page(request, campaign)


def detail_page(request, campaign, *, schedule_form=None, status: int = 200):
    """The campaign's page; `schedule_form` is a refused schedule form, shown as it was typed."""
    context = editor_context(request, campaign, selected=request.GET.get("node"), edge=_int(request.GET.get("edge")))
    from .schedule import schedule_context  # noqa: PLC0415

    context.update(schedule_context(campaign, form=schedule_form))
    if htmx_target(request) != "editor":
        from .approvals import approval_context  # noqa: PLC0415

        context.update(approval_context(request, campaign, context["version"]))
        from .. import hooks  # noqa: PLC0415
        from .runs import messages_control  # noqa: PLC0415

        live_runs = list(campaign.runs.filter(mode="live").values_list("pk", flat=True))
        context["messages_control"] = messages_control(campaign.status, hooks.summary(live_runs)) if live_runs \
            else ""
    response = render_region(request, "campaigns/detail.html", context, ("editor",))
    response.status_code = status
    return response


def _apply(request, campaign, action: str, current: dict) -> tuple[dict, str | None, str]:
    """The new definition, the activity to select after it, and what happened."""
    post = request.POST
    label = lambda node_id: next((n.get("label") or REGISTRY[n["type"]].label  # noqa: E731
                                  for n in current.get("nodes", []) if n.get("id") == node_id
                                  and n.get("type") in REGISTRY), node_id)
    if action == "add":
        node_id = post.get("node", "")
        result, new = editing.add_after(current, node_id=node_id, outlet=post.get("outlet") or None,
                                        activity_type=post.get("type", ""))
        return result, new, f"{REGISTRY[post['type']].label} added after {label(node_id)}."
    if action == "insert":
        result, new = editing.add_on_edge(current, edge_index=_int(post.get("edge")) if post.get("edge") else -1,
                                          activity_type=post.get("type", ""))
        return result, new, f"{REGISTRY[post['type']].label} inserted."
    if action == "remove":
        node_id = post.get("node", "")
        return editing.remove(current, node_id=node_id), None, f"{label(node_id)} removed."
    if action == "connect":
        node_id = post.get("node", "")
        result = editing.connect(current, node_id=node_id, outlet=post.get("outlet", "out"),
                                 target=post.get("target", ""))
        return result, node_id, f"{label(node_id)} now leads to {label(post.get('target', ''))}."
    if action == "disconnect":
        index = _int(post.get("edge"))
        return editing.disconnect(current, edge_index=-1 if index is None else index), None, "Connection removed."
    raise editing.EditError("Unknown action.")


def _is_panel_action(action: str) -> bool:
    """A change inside a panel (a rule builder's button, a changed input): redraw, not save."""
    return action == "panel" or ("|" in action and action.split("|", 1)[0].split("-")[-1] in PANEL_VERBS)


PANEL_VERBS = ("add_condition", "add_group", "remove", "up", "down", "negate", "set_value", "refresh")


def _panel_refresh(request, campaign, current: dict, selected: str | None):
    """The editor with the selected activity's panel as posted (its rule builders' edits
    applied), nothing saved and no error shown yet: the marketer is still filling it in."""
    ws = request.workspace
    node = next((n for n in current.get("nodes", []) if isinstance(n, dict) and n.get("id") == selected), None)
    if node is None:
        context = editor_context(request, campaign, definition=current, error="There is no such activity (the "
                                 "canvas may be out of date: reload it).")
        return render(request, partial_name(request, "campaigns/detail.html", "editor"), context, status=422)
    needs_audiences = node.get("type") in ("build_audience", "read_audience")
    form = settings_form(node, data=request.POST, audiences=audience_list(workspace=ws).select_related("entity")
                         if needs_audiences else (), workspace=ws, campaign_definition=current)
    form.quiet = True
    context = editor_context(request, campaign, definition=current, selected=selected, form=form)
    return render(request, partial_name(request, "campaigns/detail.html", "editor"), context)


@require_POST
@workspace_view()
def campaign_edit(request, workspace_slug, pk):
    """Apply one canvas action to the posted definition and save the draft."""
    ws = request.workspace
    campaign = access_campaign(request.user, ws, pk)
    action = request.POST.get("action", "")
    try:
        current = json_loads_checked(request.POST["definition"])
        if not isinstance(current, dict):
            raise ValueError
    except (KeyError, ValueError):
        current = services.latest_version(campaign).definition
    stack: list = request.session.get(_undo_key(campaign), [])
    selected = request.POST.get("node") or None
    form = json_form = None
    error = notice = ""
    result = None
    try:
        if _is_panel_action(action):
            return _panel_refresh(request, campaign, current, selected)
        if action not in ACTIONS:
            raise editing.EditError("Unknown action.")
        if action == "undo":
            if not stack:
                raise editing.EditError("There is nothing to undo.")
            result, notice = stack[-1], "The last change was undone."
        elif action == "replace":
            json_form = DefinitionForm(request.POST)
            if not json_form.is_valid():
                raise editing.EditError("The definition was not saved: see the JSON view.")
            result, notice = json_form.cleaned_data["document"], "The definition was saved."
        elif action == "configure":
            node = next((n for n in current.get("nodes", []) if isinstance(n, dict) and n.get("id") == selected),
                        None)
            if node is None:
                raise editing.EditError("There is no such activity (the canvas may be out of date: reload it).")
            needs_audiences = node.get("type") in ("build_audience", "read_audience")
            form = settings_form(node, data=request.POST, audiences=audience_list(workspace=ws).select_related(
                "entity") if needs_audiences else (), workspace=ws, campaign_definition=current)
            settings = form.final_settings() if form.is_valid() else None
            if form.errors:
                raise editing.EditError("The settings were not saved: see the errors below.")
            result = editing.configure(current, node_id=selected, settings=settings,
                                       label=form.cleaned_data["label"], new_node_id=form.cleaned_data["node_id"])
            selected = form.cleaned_data["node_id"] or selected
            form = None
            notice = "Settings saved."
        else:
            result, selected, notice = _apply(request, campaign, action, current)
        services.draft_save(workspace=ws, actor=request.user, campaign=campaign, definition=result)
    except GraphError as exc:
        error = "Not saved: " + " ".join(exc.messages)
    except (editing.EditError, ValidationError) as exc:
        error = exc.messages[0] if isinstance(exc, ValidationError) else str(exc)
    if error:
        result = None  # the page shows what is saved
    elif action == "undo":
        stack.pop()
    else:
        stack = (stack + [current])[-UNDO_DEPTH:]
    request.session[_undo_key(campaign)] = stack
    if not request.htmx and not error:
        messages.success(request, notice)
        url = reverse("camp-detail", kwargs={"workspace_slug": workspace_slug, "pk": pk})
        return redirect(f"{url}?node={selected}" if selected else url)
    context = editor_context(request, campaign, definition=result, selected=selected, form=form,
                             json_form=json_form, error=error, notice=notice)
    # An error is a 422 for a plain form too (the page shows it).
    response = render(request, partial_name(request, "campaigns/detail.html", "editor"), context,
                      status=422 if error else 200)
    if not error:
        response["HX-Trigger"] = "campaignChanged"
    return response
