"""Email images: the editor's upload (workspace-scoped, marketers) and the public address
mail apps load them from (/m/<token>.<ext>, no login)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, JsonResponse
from django.views.decorators.http import require_GET, require_http_methods

from apps.tenants.decorators import workspace_view
from apps.tenants.roles import WorkspaceRole

from .. import media
from ..models import MediaImage

LIBRARY_SIZE = 60  # the newest images the editor offers to pick from


@require_http_methods(["GET", "POST"])
@workspace_view(read_role=WorkspaceRole.MARKETER, write_role=WorkspaceRole.MARKETER)
def media_images(request, workspace_slug):
    """GET: the workspace's newest images {"images": [...]}. POST an image (field "image"):
    201 {"url", "width", "height", ...}, or 400/413 {"error"}."""
    if request.method == "GET":
        images = MediaImage.objects.filter(workspace=request.workspace)[:LIBRARY_SIZE]
        return JsonResponse({"images": [media.describe(i, request.workspace) for i in images]})
    upload = request.FILES.get("image")
    if upload is None:
        return JsonResponse({"error": "Choose an image file to upload (field \"image\")."}, status=400)
    if upload.size > media.MAX_UPLOAD_BYTES:
        return JsonResponse({"error": f"The image is {upload.size // 1024} KB: at most "
                                      f"{media.MAX_UPLOAD_BYTES // 1024 // 1024} MB."}, status=413)
    try:
        image = media.media_upload(workspace=request.workspace, actor=request.user, upload=upload)
    except ValidationError as exc:
        return JsonResponse({"error": " ".join(exc.messages)}, status=400)
    return JsonResponse(media.describe(image, request.workspace), status=201)


@require_GET
def media_image(request, token, ext):
    image = MediaImage.objects.filter(token=token).first()
    if image is None or ext != image.extension:
        raise Http404("No such image.")
    try:
        handle = default_storage.open(image.path, "rb")
    except FileNotFoundError:
        raise Http404("No such image.") from None
    response = FileResponse(handle, content_type=image.content_type)
    # The name is unguessable and the bytes never change: mail apps and proxies may keep it.
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
