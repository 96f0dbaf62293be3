"""The bytes of one email, built directly: multipart/alternative (text + HTML), UTF-8,
quoted-printable bodies, RFC 2047 encoded words for non-ASCII headers.

Python's email package spends about a millisecond per message folding and encoding
headers, more than everything else we do per message; for the SMTP path we write the
MIME ourselves (a fixed, simple shape) and tests read it back with the email package."""

from __future__ import annotations

import base64
import binascii
import functools
import re
import secrets
from email.utils import formataddr, formatdate

MAX_WORD_BYTES = 45  # 45 bytes -> 60 base64 chars: an encoded word stays under 76
# CR or LF would end the header line (a new header, or the body); NUL is refused by
# servers and truncates values in C code on the way.
LINE_BREAKING = re.compile(r"[\r\n\x00]")
# RFC 5322 field names: printable ASCII except the colon.
FIELD_NAME = re.compile(r"^[\x21-\x39\x3b-\x7e]{1,76}$")


class HeaderInjection(ValueError):
    """A header name or value that would break out of its line."""

    def __init__(self, name: str, value: str):
        what = "name" if value is None else "value"
        super().__init__(f"the {name[:60]!r} header {what} contains a line break or NUL: refused")
        self.header = name


def check_header(name: str, value) -> str:
    """The value as text, or HeaderInjection when the name is not a field name or the
    value contains CR, LF or NUL (header injection)."""
    if not FIELD_NAME.match(name or ""):
        raise HeaderInjection(repr(name)[1:-1], None)
    value = "" if value is None else str(value)
    if LINE_BREAKING.search(value):
        raise HeaderInjection(name, value)
    return value


def check_headers(headers: dict[str, str]) -> None:
    for name, value in headers.items():
        check_header(name, value)


def encode_header(value: str) -> str:
    """A header value: as it is when printable ASCII, else RFC 2047 words (folded).
    The caller has refused CR/LF (check_header); other whitespace runs become one space."""
    if LINE_BREAKING.search(value):
        raise HeaderInjection("(value)", value)
    value = " ".join(value.split())
    if value.isascii():
        return value
    words, chunk = [], b""
    for char in value:
        encoded = char.encode()
        if len(chunk) + len(encoded) > MAX_WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += encoded
    if chunk:
        words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode()}?=" for w in words)


@functools.lru_cache(maxsize=1024)
def address(name: str, email: str) -> str:
    name = " ".join((name or "").split())
    return formataddr((name, email), charset="utf-8") if name else email


def _qp(text: str) -> bytes:
    body = binascii.b2a_qp(text.replace("\r\n", "\n").replace("\r", "\n").encode(), istext=True)
    return body.replace(b"\n", b"\r\n")


def build(*, from_name: str, from_email: str, to: str, subject: str, text: str, html: str | None,
          message_id: str, reply_to: str = "", headers: dict[str, str] | None = None) -> bytes:
    """The message's bytes; HeaderInjection when any header value (sender, recipient,
    subject, Message-ID, Reply-To, an extra header) holds CR, LF or NUL."""
    check_headers({"From": from_email, "X-From-Name": from_name or "", "To": to, "Subject": subject,
                   "Message-ID": message_id, "Reply-To": reply_to or "", **(headers or {})})
    lines = [
        f"From: {address(from_name, from_email)}",
        f"To: {to}",
        f"Subject: {encode_header(subject)}",
        f"Date: {formatdate(localtime=False)}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
    ]
    if reply_to:
        lines.append(f"Reply-To: {reply_to}")
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {encode_header(str(value))}")
    text_part = (b"Content-Type: text/plain; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                 + _qp(text or ""))
    if not html:
        head = "\r\n".join(lines).encode() + b"\r\n"
        return head + text_part + b"\r\n"
    boundary = f"=_orchestrate_{secrets.token_hex(12)}"
    lines.append(f"Content-Type: multipart/alternative; boundary=\"{boundary}\"")
    html_part = (b"Content-Type: text/html; charset=\"utf-8\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                 + _qp(html))
    b = boundary.encode()
    return b"".join([
        "\r\n".join(lines).encode(), b"\r\n\r\n",
        b"--", b, b"\r\n", text_part, b"\r\n",
        b"--", b, b"\r\n", html_part, b"\r\n",
        b"--", b, b"--\r\n",
    ])
