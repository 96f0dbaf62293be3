"""What a report shows, as a template context: shared by the pages, the CSV exports, the
PDF and the weekly email."""

from __future__ import annotations

from typing import Any

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
TABLES = ("figures", "series", "links", "domains", "excluded", "failed", "deliveries")


def figure_rows(figures: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, label, rate in FIGURES:
        value = figures.get(key)
        if key == "click_to_open":
            rows.append({"key": key, "label": label, "value": None, "rate": value})
        else:
            rows.append({"key": key, "label": label, "value": value, "rate": figures.get(rate) if rate else None})
    return rows


def _labelled(counts: dict[str, int]) -> list[dict[str, Any]]:
    return [{"code": code, "label": channel_selectors.reason_label(code), "n": n} for code, n in counts.items()]


def report_context(deliveries: list, *, per_delivery: bool) -> dict[str, Any]:
    figures = selectors.report_of(deliveries)
    series = selectors.series(deliveries)
    return {
        "figures": figures, "figure_rows": figure_rows(figures), "series": series,
        "chart": charts.line_chart(series), "links": selectors.links(deliveries),
        "domains": selectors.domains(deliveries), "excluded": _labelled(figures["excluded_by_reason"]),
        "failed": _labelled(figures["failed_by_reason"]),
        "delivery_rows": selectors.per_delivery(deliveries) if per_delivery else [],
        "complaint_limit": selectors.COMPLAINT_RATE_LIMIT,
        "tables": [t for t in TABLES if per_delivery or t != "deliveries"],
    }


