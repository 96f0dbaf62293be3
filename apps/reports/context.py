"""What a report shows, as a template context: shared by the pages, the CSV exports, the
PDF and the weekly email."""

from __future__ import annotations

from typing import Any

from apps.campaigns.models import Run
from apps.channels import selectors as channel_selectors

from . import charts, selectors

# (key, label, rate key) of the figures table, in reading order.
FIGURES = [
    ("targeted", "Targeted", None), ("excluded", "Excluded", None), ("sent", "Sent", None),
    ("failed", "Failed", None), ("delivered", "Delivered", "delivery_rate"),
    ("bounced_hard", "Bounced (hard)", "bounce_rate"), ("bounced_soft", "Bounced (soft)", None),
    ("complained", "Complaints", "complaint_rate"), ("opened_unique", "Opened (unique)", "open_rate"),
    ("opened_total", "Opens (total)", None), ("opened_machine", "Machine opens (proxies, scanners)", None),
    ("clicked_unique", "Clicked (unique)", "click_rate"), ("clicked_total", "Clicks (total)", None),
    ("click_to_open", "Click-to-open", None), ("unsubscribed", "Unsubscribed", "unsubscribe_rate"),
    ("expired", "Expired", None), ("cancelled", "Cancelled", None),
]
# Rows only a report with SMS deliveries has: segments billed, per message, and their cost.
SMS_FIGURES = [("segments", "SMS segments", None), ("segments_per_message", "Segments per message", None),
               ("sms_cost", "SMS cost (at the price per segment when sent)", None)]
TABLES = ("figures", "series", "links", "domains", "excluded", "failed", "deliveries")


def figure_rows(figures: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, label, rate in FIGURES + (SMS_FIGURES if "sms" in figures.get("channels", ()) else []):
        value = figures.get(key)
        if key == "click_to_open":
            rows.append({"key": key, "label": label, "value": None, "rate": value})
        else:
            rows.append({"key": key, "label": label, "value": value, "rate": figures.get(rate) if rate else None})
    return rows


def _labelled(counts: dict[str, int]) -> list[dict[str, Any]]:
    return [{"code": code, "label": channel_selectors.reason_label(code), "n": n} for code, n in counts.items()]


def branch_of(definition: dict[str, Any], node_id: str) -> str:
    """The audience split branch a channel activity is on: the nearest Split upstream and
    its outlet on the way, as "<split label> → <outlet>" ("" when no split is upstream)."""
    nodes = {n.get("id"): n for n in definition.get("nodes", []) if isinstance(n, dict)}
    incoming: dict[str, list[tuple[str, str]]] = {}
    for edge in definition.get("edges", []):
        if isinstance(edge, dict):
            incoming.setdefault(edge.get("to"), []).append((edge.get("from"), edge.get("outlet", "out")))
    seen, frontier = {node_id}, [node_id]
    while frontier:
        nxt = []
        for current in frontier:
            for source, outlet in incoming.get(current, []):
                node = nodes.get(source) or {}
                if node.get("type") == "split":
                    return f"{node.get('label') or source} → {outlet}"
                if source not in seen:
                    seen.add(source)
                    nxt.append(source)
        frontier = nxt
    return ""


def report_context(deliveries: list, *, per_delivery: bool) -> dict[str, Any]:
    figures = selectors.report_of(deliveries)
    series = selectors.series(deliveries)
    return {
        "figures": figures, "figure_rows": figure_rows(figures), "series": series,
        "chart": charts.line_chart(series), "links": selectors.links(deliveries),
        "domains": selectors.domains(deliveries), "excluded": _labelled(figures["excluded_by_reason"]),
        "failed": _labelled(figures["failed_by_reason"]),
        "delivery_rows": _with_branches(selectors.per_delivery(deliveries)) if per_delivery else [],
        "complaint_limit": selectors.COMPLAINT_RATE_LIMIT,
        "tables": [t for t in TABLES if per_delivery or t != "deliveries"],
    }




def _with_branches(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each delivery's split branch, from its run's version (one query for the versions)."""
    run_ids = {r["delivery"].run_id for r in rows if r["delivery"].run_id}
    definitions = dict(Run.objects.filter(pk__in=run_ids).values_list("pk", "version__definition"))
    for row in rows:
        definition = definitions.get(row["delivery"].run_id) or {}
        row["branch"] = branch_of(definition, row["delivery"].node_id) if row["delivery"].node_id else ""
    return rows
