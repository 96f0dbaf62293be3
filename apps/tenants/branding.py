"""A client's (and an agency's) branding: a logo, a colour and the public address its
links use. A logo is an upload from a tenant: it is decoded by Pillow within a pixel
budget (no decompression bombs), must be a PNG, JPEG, GIF or WebP, and is stored as a
PNG we drew ourselves, scaled to fit 600x200 (nothing of the upload's own bytes, nor its
metadata, is ever served)."""

from __future__ import annotations

import io
import re
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile

MAX_UPLOAD_BYTES = 1024 * 1024
MAX_PIXELS = 16_000_000
FORMATS = {"PNG", "JPEG", "GIF", "WEBP"}
BOX = (600, 200)
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")


def validate_hex_color(value: str) -> None:
    if value and not HEX_COLOR.match(value):
        raise ValidationError("A colour as #rrggbb, e.g. #0f766e.")


def validate_public_url(value: str) -> None:
    """The client's own address for links (tracking, unsubscribe, preferences): https
    (http only for a local test), a host name, nothing after it."""
    if not value:
        return
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.path not in ("", "/") or parts.query \
            or parts.fragment or parts.username or parts.password or any(c in value for c in "\r\n\t "):
        raise ValidationError("An address like https://links.client.com (scheme and host only).")


def clean_logo(upload) -> ContentFile:
    """The uploaded image, checked and redrawn as a PNG; ValidationError naming why not."""
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415 - only logo uploads need it

    if upload.size > MAX_UPLOAD_BYTES:
        raise ValidationError(f"The logo is {upload.size // 1024} KB: at most {MAX_UPLOAD_BYTES // 1024} KB.")
    data = upload.read()
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind, (width, height) = probe.format, probe.size
            if kind not in FORMATS:
                raise ValidationError(f"A logo is a PNG, JPEG, GIF or WebP image, not {kind or 'this file'}.")
            if width * height > MAX_PIXELS:
                raise ValidationError(f"The logo is {width}x{height} pixels: too large to read safely.")
            probe.verify()
        with Image.open(io.BytesIO(data)) as image:
            image.seek(0)
            image = image.convert("RGBA")
            image.thumbnail(BOX)
            out = io.BytesIO()
            image.save(out, format="PNG", optimize=True)
    except ValidationError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ValidationError(f"The logo cannot be read as an image ({type(exc).__name__}).") from None
    return ContentFile(out.getvalue(), name="logo.png")
