"""The Swagger UI at /api/docs/ under the Content-Security-Policy."""

from __future__ import annotations

from drf_spectacular.views import SpectacularSwaggerSplitView

# Swagger UI styles elements inline (its page template has a <style> block and the
# bundle sets style attributes); its scripts are files served from here (the split view
# serves its start-up script from ?script instead of inline), so scripts stay 'self'.
API_DOCS_POLICY = {"style-src": ["'unsafe-inline'"]}


class ApiDocsView(SpectacularSwaggerSplitView):
    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response._csp_update = API_DOCS_POLICY  # read by django-csp's middleware
        return response
