"""Per-response additions to the Content-Security-Policy (settings.CONTENT_SECURITY_POLICY)."""

from __future__ import annotations

from django.http import HttpResponseBase

# A page that shows a rendered email in a sandboxed srcdoc frame: the frame inherits the
# page's policy, and email HTML is styled inline (style attributes, <style> blocks). Only
# styles are let through; scripts stay refused (and the frame's sandbox runs none), and
# images still load only from this site or data: URLs, so a preview fetches nothing else.
EMAIL_PREVIEW = {"style-src": ["'unsafe-inline'"]}


def allow_email_preview(response: HttpResponseBase) -> HttpResponseBase:
    response._csp_update = EMAIL_PREVIEW  # read by django-csp's middleware
    return response
