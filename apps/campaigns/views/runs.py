"""A run's page: the canvas of the version it runs, coloured by each activity's status,
with the row counts on the edges; per activity its rows in and out, its report (drawn by
the template its activity names: the channel report with recipients and exclusions) and
the log with its SQL. While the run goes on, the
status region polls itself every second; a finished run's region has no trigger.
Approvers stop the run here, and confirm the first send of a live run whose campaign asks
for it (its channel activities wait "awaiting confirmation" until then)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST

from apps.core.csp import allow_email_preview
from apps.tenants.decorators import can_approve, can_edit, is_admin, workspace_view
from apps.tenants.models import AuditEvent

from .. import hooks
from ..activities import REGISTRY
from ..canvas import layout, summarize
from ..models import ActivityStatus, RunStatus
from ..selectors import access_run, run_activities
from ._common import APPROVER
from .editor import audience_names

OPEN = (RunStatus.QUEUED, RunStatus.RUNNING)


def _seconds(start, end) -> str:
    if not (start and end):
        return ""
    return f"{(end - start).total_seconds():.2f} s"


def run_context(request, run) -> dict:
    activities = run_activities(run=run)
    by_node = {a.node_id: a for a in activities}
    definition = run.version.definition
    counts = {}
    for edge in definition.get("edges", []):
        source = by_node.get(edge.get("from"))
        outlet = (source.outlets or {}).get(edge.get("outlet", "out")) if source else None
        counts[(edge.get("from"), edge.get("outlet", "out"), edge.get("to"))] = outlet.get("count") if outlet else None
    summaries = summarize(definition, audience_names(request.workspace, definition))
    results = hooks.results(run) if run.mode == "live" else {}
    summaries.update({node_id: result["short"] for node_id, result in results.items()})
    canvas = layout(definition, counts=counts, statuses={a.node_id: a.status for a in activities},
                    summaries=summaries)
    labels = {n.id: n.label for n in canvas.nodes}
    why = _why_skipped(definition, by_node, labels)
    rows = []
    for box in canvas.nodes:  # in the canvas's order: top to bottom
        activity = by_node.get(box.id)
        if activity is None:
            continue
        report = activity.report or {}
        kind = REGISTRY.get(activity.type)
        drawn = kind is not None and kind.report_template is not None and bool(report)
        rows.append({
            "activity": activity, "label": labels.get(box.id, box.id),
            "type_label": kind.label if kind is not None else activity.type,
            "duration": _seconds(activity.started_at, activity.finished_at),
            "outlets": [(box.outlet_labels.get(name, name), o.get("count"))
                        for name, o in (activity.outlets or {}).items()],
            "report": report,
            "report_template": kind.report_template if drawn else None,
            "report_details": kind.report_details(report) if drawn else {},
            "result": results.get(box.id),
            "why": why.get(box.id, ""),
            "notes": [e["message"] for e in (activity.log or []) if isinstance(e, dict) and e.get("message")],
            "retry": activity.status == ActivityStatus.FAILED and changed_since(request.workspace, activity.finished_at),
        })
    edges = [{"from": f, "outlet": o, "to": t, "count": n,
              "label": f"{labels.get(f, f)} → {labels.get(t, t)}" + (f" ({o})" if o != "out" else "")}
             for (f, o, t), n in counts.items()]
    done = sum(1 for a in activities if a.status in ("done", "failed", "skipped"))
    awaiting = [a.node_id for a in activities if a.status == ActivityStatus.AWAITING_CONFIRMATION]
    return {"run": run, "campaign": run.campaign, "canvas": canvas, "rows": rows, "finished": run.status not in OPEN,
            "progress": round(100 * done / len(activities)) if activities else 100, "done_count": done,
            "total": len(activities), "edges": edges, "duration": _seconds(run.started_at, run.finished_at),
            "can_edit": can_edit(request), "can_approve": can_approve(request), "awaiting": awaiting,
            "is_admin": is_admin(request),
            "messages_control": messages_control(run.status, hooks.summary([run.pk]))}


def _why_skipped(definition: dict, by_node: dict, labels: dict[str, str]) -> dict[str, str]:
    """In words, per activity: the branch it stopped (an empty audience set to stop), or why
    it was skipped (the nearest activity upstream that stopped its branch or failed)."""
    inputs: dict[str, list[tuple[str, str]]] = {}
    for edge in definition.get("edges", []):
        inputs.setdefault(edge.get("to"), []).append((edge.get("from"), edge.get("outlet", "out")))
    why: dict[str, str] = {}
    for node_id, activity in by_node.items():
        stopped = (activity.report or {}).get("stopped_empty") or []
        if stopped:
            names = ", ".join(f"“{o}”" for o in stopped) if stopped != ["out"] else ""
            why[node_id] = (f"No rows{' on ' + names if names else ''}: the branch stops here, as this activity "
                            "is set to do on an empty audience.")
    for node_id, activity in by_node.items():
        if activity.status != ActivityStatus.SKIPPED:
            continue
        seen, frontier, cause = {node_id}, [node_id], ""
        while frontier and not cause:  # breadth first: the nearest cause
            following = []
            for current in frontier:
                for source, outlet in inputs.get(current, []):
                    upstream = by_node.get(source)
                    if upstream is None or source in seen:
                        continue
                    seen.add(source)
                    if outlet in ((upstream.report or {}).get("stopped_empty") or []):
                        cause = f"Skipped: “{labels.get(source, source)}” had no rows and stops its branch then."
                    elif upstream.status == ActivityStatus.FAILED:
                        cause = f"Skipped: “{labels.get(source, source)}” failed."
                    following.append(source)
            frontier = following
        why[node_id] = cause or "Skipped: an activity before it did not pass rows on."
    return why


def changed_since(workspace, moment) -> bool:
    """Whether anything outside the campaigns changed in the workspace since `moment` (a
    failure): data, audiences, templates, settings all leave an audit event. Retrying an
    activity when nothing changed would fail the same way, so it is not offered then."""
    if moment is None:
        return True
    return AuditEvent.objects.filter(workspace=workspace, created_at__gt=moment).exclude(
        verb__startswith="campaign.").exists()


def messages_control(status: str, summary: dict[str, int]) -> str:
    """What a stop or a pause did to the queued messages, in words (empty: nothing)."""
    parts = []
    if status == "stopped" or summary.get("cancelled"):
        parts.append(f"Stopped: {summary.get('cancelled', 0):,} queued messages cancelled")
    if summary.get("held"):
        parts.append(f"Paused: {summary['held']:,} messages held")
    return "; ".join(parts)


@require_GET
@workspace_view()
def run_detail(request, workspace_slug, pk):
    run = access_run(request.user, request.workspace, pk)
    # the rendered samples of email and letter activities are framed (sandboxed srcdoc)
    return allow_email_preview(render(request, "campaigns/run.html", run_context(request, run)))


@require_GET
@workspace_view()
def run_status(request, workspace_slug, pk):
    """The status region alone, polled every second while the run goes on."""
    run = access_run(request.user, request.workspace, pk)
    response = render(request, "campaigns/run.html#run-status", run_context(request, run))
    add_never_cache_headers(response)
    return response


@require_POST
@workspace_view(write_role="marketer")
def activity_retry(request, workspace_slug, pk, node_id):
    """Retry a failed activity (a live run's needs an approver)."""
    from .. import services  # noqa: PLC0415
    from ..selectors import access_activity_run  # noqa: PLC0415

    activity = access_activity_run(request.user, request.workspace, pk, node_id)
    if activity.run.mode == "live" and not can_approve(request):
        raise PermissionDenied("Retrying an activity of a live run needs the approver role.")
    try:
        services.activity_retry(workspace=request.workspace, actor=request.user, run=activity.run, node_id=node_id)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{node_id} runs again.")
    return redirect("camp-run", workspace_slug=workspace_slug, pk=pk)


@require_POST
@workspace_view(write_role=APPROVER)
def run_stop(request, workspace_slug, pk):
    """Stop this run (the campaign stays as it is): nothing new starts in it."""
    from .. import services  # noqa: PLC0415

    run = access_run(request.user, request.workspace, pk)
    if run.status in OPEN:
        stopped = services.run_stop(workspace=request.workspace, actor=request.user, run=run)
        messages.success(request, f"Run #{run.pk} is stopped. Stopped: {stopped.cancelled:,} queued messages "
                                  "cancelled.")
    else:
        messages.error(request, f"Run #{run.pk} is already {run.get_status_display().lower()}.")
    return redirect("camp-run", workspace_slug=workspace_slug, pk=pk)


@require_POST
@workspace_view(write_role=APPROVER)
def run_confirm(request, workspace_slug, pk):
    """Confirm the first send of a live run: its waiting channel activities go on."""
    from .. import services  # noqa: PLC0415

    run = access_run(request.user, request.workspace, pk)
    try:
        services.run_confirm(workspace=request.workspace, actor=request.user, run=run)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Sending confirmed for run #{run.pk}.")
    return redirect("camp-run", workspace_slug=workspace_slug, pk=pk)


@require_GET
@workspace_view()
def run_edge(request, workspace_slug, pk):
    """A few rows flowing along one edge, from the run's working table (404: no such edge)."""
    from ..edge_preview import edge_preview  # noqa: PLC0415

    run = access_run(request.user, request.workspace, pk)
    # ?edge=from|outlet|to (the page's select) or ?from=&outlet=&to=; ids are slugs, no "|".
    parts = request.GET.get("edge", "")[:300].split("|")
    source, outlet, target = parts if len(parts) == 3 else (request.GET.get(k, "")[:100]
                                                              for k in ("from", "outlet", "to"))
    preview = edge_preview(run=run, source=source, outlet=outlet or "out", target=target)
    if preview is None:
        raise Http404("This run has no such connection.")
    if request.htmx:
        return render(request, "campaigns/run.html#edge-preview", {"run": run, "preview": preview})
    return allow_email_preview(render(request, "campaigns/run.html", {**run_context(request, run),
                                                                      "preview": preview}))
