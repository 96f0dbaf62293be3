"""The delivery screens: the workspace's deliveries, and one delivery's page. While it
sends, the status region shows a progress bar and polls itself every 2 s; once finished
the region has no trigger and shows the counts by state, by exclusion reason, opens and
clicks. Below: the content snapshot (the HTML in a sandboxed iframe) and its first
messages, filtered by state. Approvers stop a delivery (queued messages are cancelled)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from apps.core.csp import allow_email_preview
from apps.core.htmx import htmx_target, render_partial
from apps.tenants.decorators import can_approve, workspace_view
from apps.tenants.roles import WorkspaceRole

from .. import selectors, services
from ..models import ChannelKind, DeliveryStatus, MessageStatus

APPROVER = WorkspaceRole.APPROVER
MESSAGE_ROWS = 100  # the page shows the first ones; the API pages through all of them
LIST_ROWS = 200


def _status_context(request, delivery) -> dict:
    stats = selectors.delivery_stats(delivery=delivery)
    labels = dict(MessageStatus.choices)
    return {
        "delivery": delivery, "stats": stats, "finished": delivery.status != DeliveryStatus.SENDING,
        "states": [(s, labels[s], n) for s, n in stats["by_status"].items() if n],
        "excluded": [(selectors.reason_label(r), r, n) for r, n in stats["excluded"].items()],
        "failed": [(selectors.reason_label(r), r, n) for r, n in stats["failed"].items()],
        # A letter is not opened or clicked where anyone can see it.
        "engagement": delivery.channel != ChannelKind.DIRECT_MAIL,
        "can_stop": can_approve(request),
    }


@require_GET
@workspace_view()
def delivery_list(request, workspace_slug):
    deliveries = selectors.delivery_list(workspace=request.workspace)[:LIST_ROWS]
    return render(request, "channels/delivery_list.html", {"deliveries": deliveries, "limit": LIST_ROWS})


@require_GET
@vary_on_headers("HX-Request")
@workspace_view()
def delivery_detail(request, workspace_slug, pk):
    delivery = selectors.access_delivery(request.user, request.workspace, pk)
    status = request.GET.get("status") or ""
    if status not in MessageStatus.values:
        status = ""
    rows = list(selectors.message_list(delivery=delivery, status=status or None)[:MESSAGE_ROWS])
    for row in rows:  # (at most MESSAGE_ROWS, for display)
        row.reason_text = selectors.reason_label(row.reason) if row.reason else ""
    context = {**_status_context(request, delivery), "rows": rows, "status_filter": status,
               "status_choices": MessageStatus.choices, "message_limit": MESSAGE_ROWS}
    if htmx_target(request) == "delivery-messages":
        return render(request, "channels/delivery.html#delivery-messages", context)
    context.update(_sample(request.workspace, delivery))
    return allow_email_preview(render(request, "channels/delivery.html", context))


def _sample(workspace, delivery) -> dict:
    """The content as one recipient got it (the first message's record, else any record),
    not the template's raw {{ }}: {"sample": Preview} or {"sample_error": why not}."""
    first = selectors.message_list(delivery=delivery).exclude(target_key="").values_list(
        "target_key", flat=True).first()
    entity_key = (delivery.options or {}).get("target") or ""
    for key in ([first] if first else []) + [None]:
        try:
            return {"sample": selectors.preview(workspace=workspace, channel=delivery.channel,
                                                content=delivery.content, entity_key=entity_key, key=key)}
        except selectors.PreviewError as exc:
            error = exc.message
    return {"sample_error": error}


@require_GET
@workspace_view()
def delivery_status(request, workspace_slug, pk):
    """The status region alone, polled every 2 s while the delivery sends."""
    delivery = selectors.access_delivery(request.user, request.workspace, pk)
    context = _status_context(request, delivery)
    response = render(request, "channels/delivery.html#delivery-status", context)
    if context["finished"]:
        # The last poll: the message table below refreshes once to show the final states.
        response["HX-Trigger"] = "deliveryChanged"
    add_never_cache_headers(response)
    return response


@require_POST
@workspace_view(write_role=APPROVER)
def delivery_stop(request, workspace_slug, pk):
    """Cancel what has not left: htmx gets the status region back, a plain form the page."""
    delivery = selectors.access_delivery(request.user, request.workspace, pk)
    if delivery.status == DeliveryStatus.SENDING:
        cancelled = services.delivery_stop(workspace=request.workspace, delivery=delivery)
        note, ok = f"Delivery stopped: {cancelled} queued message{pluralize(cancelled)} cancelled.", True
    else:
        note, ok = f"The delivery is already {delivery.get_status_display().lower()}.", False
    delivery.refresh_from_db()
    if request.htmx:
        return render_partial(request, "channels/delivery.html", "delivery-status",
                              {**_status_context(request, delivery), "note": note}, trigger="deliveryChanged")
    (messages.success if ok else messages.error)(request, note)
    return redirect(reverse("chan-delivery", kwargs={"workspace_slug": workspace_slug, "pk": pk}))
