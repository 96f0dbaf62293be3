"""Images uploaded for emails (the visual editor's image blocks). An upload is hostile: its
type is sniffed by Pillow from the bytes (not the name nor the declared type), its size
and pixel count are bounded before it is decoded (no decompression bombs), and it is
re-encoded (JPEG stays JPEG for photos, the rest become PNG, which every mail app shows,
unlike WebP), scaled to at most MAX_WIDTH, without metadata: none of the upload's own
bytes is ever served. The public URL goes through the workspace's own address if set."""

from __future__ import annotations

import io
import secrets
import struct
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from .models import MediaImage

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 25_000_000  # a 5000x5000 photo; decoding it takes ~100 MB
MAX_SIDE = 8000
MAX_WIDTH = 1200  # twice the email's 600 px: sharp on high-density screens
FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}


def media_upload(*, workspace, actor, upload) -> MediaImage:
    """Store an uploaded image for `workspace`; ValidationError saying why not."""
    from PIL import Image, ImageOps, UnidentifiedImageError  # noqa: PLC0415

    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(f"The image is {upload.size // 1024} KB: at most {MAX_UPLOAD_BYTES // 1024 // 1024} MB.")
    data = upload.read(MAX_UPLOAD_BYTES + 1)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind, (width, height) = probe.format, probe.size
            if kind not in FORMATS:
                raise ValidationError(f"An image is a PNG, JPEG, GIF or WebP file, not {kind or 'this file'}.")
            if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                raise ValidationError(f"The image is {width}x{height} pixels: at most {MAX_SIDE} on a side and "
                                      f"{MAX_PIXELS // 1_000_000} million pixels.")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)  # an animated GIF keeps its first frame
            image = ImageOps.exif_transpose(image)
            photo = kind == "JPEG"
            image = image.convert("RGB" if photo else "RGBA")
            image.thumbnail((MAX_WIDTH, MAX_SIDE))
            out = io.BytesIO()
            if photo:
                image.save(out, format="JPEG", quality=85, optimize=True, progressive=True)
            else:
                image.save(out, format="PNG", optimize=True)
            width, height = image.size
    except ValidationError:
        raise
    # Malformed files fail deep inside the decoders with any of these: a clear 400, never a 500.
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError, EOFError,
            KeyError, IndexError, TypeError, ZeroDivisionError, struct.error):
        raise ValidationError("The file cannot be read as an image (PNG, JPEG, GIF or WebP).") from None
    token = secrets.token_hex(16)
    extension, content_type = ("jpg", "image/jpeg") if photo else ("png", "image/png")
    path = default_storage.save(f"email-media/{workspace.pk}/{token}.{extension}", ContentFile(out.getvalue()))
    return MediaImage.objects.create(workspace=workspace, token=token, path=path, content_type=content_type,
                                     width=width, height=height, size=len(out.getvalue()),
                                     original_name=str(getattr(upload, "name", "") or "")[:200], created_by=actor)


def public_url(image: MediaImage, workspace=None) -> str:
    """The address an email uses: the client's own address (a CNAME to this platform) if
    set, else the platform's."""
    base = ((workspace or image.workspace).public_url or settings.SITE_URL).rstrip("/")
    return base + reverse("media-image", kwargs={"token": image.token, "ext": image.extension})


def describe(image: MediaImage, workspace=None) -> dict[str, Any]:
    return {"id": image.pk, "url": public_url(image, workspace), "width": image.width, "height": image.height,
            "content_type": image.content_type, "name": image.original_name}


def media_delete(*, images) -> int:
    """Delete images and their files (an email already sent that shows one shows a broken
    image from then on: the admin says so)."""
    paths = list(images.values_list("path", flat=True))
    count, _ = images.delete()
    for path in paths:
        default_storage.delete(path)
    return count


def workspace_media_files(workspace) -> list[tuple[Any, str]]:
    """The stored email images of a workspace: deleted with it (tenants.lifecycle)."""
    return [(default_storage, path) for path in
            MediaImage.objects.filter(workspace=workspace).values_list("path", flat=True)]
