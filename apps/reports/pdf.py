"""A campaign's report as a PDF to send to the client (WeasyPrint), with the agency's and
the client's names, the figures, the chart and the main tables. Everything it shows is
ours, but it goes through the letters' fetcher anyway: nothing is loaded from the
network or the file system but `data:` URIs and the project's static files."""

from __future__ import annotations

import base64
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from apps.channels.providers.letterfetch import STATIC_BASE, LetterFetcher
from apps.tenants.branding import HEX_COLOR


def logo_uri(field) -> str:
    """A stored logo (our own redrawn PNG, tenants.branding) as a data: URI, or ""."""
    if not field:
        return ""
    try:
        with field.open("rb") as handle:
            return "data:image/png;base64," + base64.b64encode(handle.read()).decode()
    except (FileNotFoundError, OSError):
        return ""


def branding(workspace) -> dict[str, str]:
    """The names and logos of the agency and the client, for a report's header."""
    return {"organization_name": workspace.organization.name, "workspace_name": workspace.name,
            "organization_logo": logo_uri(workspace.organization.brand_logo),
            "workspace_logo": logo_uri(workspace.brand_logo),
            # (validated as #rrggbb when saved; checked again: it is written into the PDF's CSS)
            "brand_color": workspace.brand_color if HEX_COLOR.match(workspace.brand_color or "") else "#2563eb"}


def report_pdf(context: dict[str, Any]) -> bytes:
    from weasyprint import HTML  # noqa: PLC0415 - heavy: only this download needs it

    html = render_to_string("reports/report_pdf.html", {**context, "generated_at": timezone.now()})
    return HTML(string=html, base_url=STATIC_BASE, url_fetcher=LetterFetcher()).write_pdf()
