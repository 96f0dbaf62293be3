"""A campaign's report as a PDF to send to the client (WeasyPrint), with the agency's and
the client's names, the figures, the chart and the main tables. Everything it shows is
ours, but it goes through the letters' fetcher anyway: nothing is loaded from the
network or the file system but `data:` URIs and the project's static files."""

from __future__ import annotations

from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone

from apps.channels.providers.letterfetch import STATIC_BASE, LetterFetcher


def report_pdf(context: dict[str, Any]) -> bytes:
    from weasyprint import HTML  # noqa: PLC0415 - heavy: only this download needs it

    html = render_to_string("reports/report_pdf.html", {**context, "generated_at": timezone.now()})
    return HTML(string=html, base_url=STATIC_BASE, url_fetcher=LetterFetcher()).write_pdf()
