"""A direct-mail delivery's files: the batch PDFs and the manifest, listed with download
links. The files hold names and addresses, so they are served only through this view, to
marketers and above of the delivery's workspace (never from a public media URL); a file
is found by its name among the delivery's own files, never by a path from the request."""

from __future__ import annotations

import mimetypes

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.tenants.access import access_object
from apps.tenants.decorators import workspace_view
from apps.tenants.roles import WorkspaceRole

from ..models import Delivery

MARKETER = WorkspaceRole.MARKETER
KIND_ORDER = {"manifest": 0, "letters": 1}


def access_direct_mail(actor, workspace, pk) -> Delivery:
    return access_object(Delivery.objects.filter(channel="direct_mail"), workspace, pk)


def _files(delivery: Delivery) -> list[dict]:
    return sorted(delivery.files or [], key=lambda f: (KIND_ORDER.get(f.get("kind"), 9), f.get("name", "")))


@require_GET
@workspace_view(read_role=MARKETER)
def directmail_files(request, workspace_slug, pk):
    delivery = access_direct_mail(request.user, request.workspace, pk)
    files = _files(delivery)
    return render(request, "channels/directmail_files.html", {
        "delivery": delivery, "files": files, "has_manifest": any(f.get("kind") == "manifest" for f in files),
        "letters": sum(f.get("letters", 0) for f in files if f.get("kind") == "letters"),
        "pages": sum(f.get("pages", 0) for f in files if f.get("kind") == "letters"),
    })


@require_GET
@workspace_view(read_role=MARKETER)
def directmail_file(request, workspace_slug, pk, name):
    delivery = access_direct_mail(request.user, request.workspace, pk)
    entry = next((f for f in delivery.files or [] if f.get("name") == name), None)
    if entry is None or not default_storage.exists(entry["path"]):
        raise Http404("Not found.")
    content_type = mimetypes.guess_type(entry["name"])[0] or "application/octet-stream"
    if content_type == "text/csv":
        content_type = "text/csv; charset=utf-8"
    response = FileResponse(default_storage.open(entry["path"], "rb"), as_attachment=True, filename=entry["name"],
                            content_type=content_type)
    response["Cache-Control"] = "private, no-store"  # personal data: no shared cache keeps a copy
    return response
