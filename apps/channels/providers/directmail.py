"""Direct mail: the letters of one chunk rendered with WeasyPrint into ONE PDF (one
document per batch, not per letter: layout and font setup are paid once per batch, about
ten times faster than a document per letter), each letter starting on a new page with
the recipient's address placed for the window of the envelope, written to Django storage.

A letter's provider_id names its file and its pages: "dm-12-345.pdf#p3-4". The file name
comes from the batch's first message id, so a batch rendered again after a crash
overwrites its own file; files that no sent letter points at are dropped when the
delivery finishes (apps/channels/manifest.py), so no letter is printed twice."""

from __future__ import annotations

import html
import logging
import re
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from apps.datamodel.models import AddressMapping

from . import Outgoing, Retryable
from .letterfetch import STATIC_BASE, LetterFetcher, drop_attachments

logger = logging.getLogger(__name__)
# WeasyPrint logs each layout step and fontTools each subset table at INFO: thousands of
# lines per batch that drown the worker's own log.
for _name in ("weasyprint", "weasyprint.progress", "fontTools"):
    logging.getLogger(_name).setLevel(logging.WARNING)

# DIN 5008 form B address field for C5/6, DL and C4 left-window envelopes: 20 mm from the
# left edge, 45 mm from the top, 85 x 45 mm (the top 17.7 mm hold the return address).
# Text starts 5 mm inside the field (at the letter's 25 mm left margin), clear of the
# window's edge when the sheet shifts in the envelope.
DEFAULT_WINDOW = {"left_mm": 20.0, "top_mm": 45.0, "width_mm": 85.0, "height_mm": 45.0, "padding_mm": 5.0}
DEFAULT_MARGINS = {"top_mm": 20.0, "right_mm": 20.0, "bottom_mm": 20.0, "left_mm": 25.0}
PAGE_SIZES = {"a4": "A4", "letter": "letter", "a5": "A5", "legal": "legal"}
RETURN_ZONE_MM = 17.7
BODY_GAP_MM = 8.0  # between the bottom of the window and the letter text
ADDRESS_ROLES = ("full_name", "first_name", "last_name", "address_line1", "address_line2", "postal_code", "city",
                 "region", "country")
# A letter of more pages than this is a template gone wrong, not mail: the batch is laid
# out again letter by letter and the long one fails alone.
MAX_PAGES_PER_LETTER = 20
_BODY = re.compile(r"<body[^>]*>(.*)</body\s*>", re.IGNORECASE | re.DOTALL)


def _number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if 0 <= number <= 1000 else default


def window(content: dict[str, Any]) -> dict[str, float]:
    given = content.get("address_position") or {}
    return {k: _number(given.get(k), v) for k, v in DEFAULT_WINDOW.items()}


def margins(content: dict[str, Any]) -> dict[str, float]:
    given = content.get("margins") or {}
    return {k: _number(given.get(k), v) for k, v in DEFAULT_MARGINS.items()}


def page_size(content: dict[str, Any]) -> str:
    return PAGE_SIZES.get(str(content.get("page_size") or "A4").strip().lower(), "A4")


def print_css(content: dict[str, Any]) -> str:
    """Our page and window rules come after the letter's own CSS, so the window stays where
    the envelope has it whatever the letter's styles say. The window is laid out in the
    normal flow (the letter's top padding, then a block of the window's size), which costs
    WeasyPrint about a third less than an absolutely positioned box."""
    w, m = window(content), margins(content)
    top = min(m["top_mm"], w["top_mm"])  # the page margin cannot start below the window
    return (
        f"@page {{ size: {page_size(content)}; margin: {top}mm {m['right_mm']}mm {m['bottom_mm']}mm "
        f"{m['left_mm']}mm; }}\n"
        "html, body { margin: 0; padding: 0; }\n"
        # padding, not margin: a margin at the top of a page may be truncated, a padding is not
        f".dm-letter {{ break-before: page; margin: 0; padding: {w['top_mm'] - top}mm 0 0 0; }}\n"
        ".dm-letter:first-child { break-before: auto; }\n"
        f".dm-window {{ margin: 0 0 0 {w['left_mm'] - m['left_mm']}mm; width: {w['width_mm']}mm; "
        f"height: {w['height_mm']}mm; padding: 0 {w['padding_mm']}mm; box-sizing: border-box; overflow: hidden; "
        "font-size: 10pt; line-height: 1.25; }\n"
        f".dm-return {{ margin: 0; height: {RETURN_ZONE_MM}mm; padding-top: {RETURN_ZONE_MM - 4.5}mm; "
        "box-sizing: border-box; font-size: 7pt; line-height: 3mm; white-space: nowrap; overflow: hidden; }\n"
        ".dm-return span { text-decoration: underline; }\n"
        ".dm-recipient { margin: 0; }\n"
        f".dm-body {{ padding-top: {BODY_GAP_MM}mm; }}\n"
    )


def body_of(rendered: str) -> str:
    """The letter's own markup: the inside of <body> when a whole document was written."""
    match = _BODY.search(rendered)
    return match.group(1) if match else rendered


class AddressLines:
    """The postal address of a profile row, from the workspace's address mappings."""

    def __init__(self, workspace_id: int):
        self.columns = {m.role: m.attribute.key for m in AddressMapping.objects.filter(
            workspace_id=workspace_id, role__in=ADDRESS_ROLES).select_related("attribute")}

    def value(self, profile: dict[str, Any], role: str) -> str:
        column = self.columns.get(role)
        value = profile.get(column) if column else None
        return " ".join(str(value).split()) if value not in (None, "") else ""

    def name(self, profile: dict[str, Any]) -> str:
        return self.value(profile, "full_name") or " ".join(
            p for p in (self.value(profile, "first_name"), self.value(profile, "last_name")) if p)

    def lines(self, profile: dict[str, Any]) -> list[str]:
        v = self.value
        city_line = " ".join(p for p in (v(profile, "postal_code"), v(profile, "city")) if p)
        return [line for line in (self.name(profile), v(profile, "address_line1"), v(profile, "address_line2"),
                                  city_line, v(profile, "region"), v(profile, "country")) if line]


def letter_html(item: Outgoing, lines: list[str], return_address: str) -> str:
    esc = html.escape
    recipient = "<br>".join(esc(line) for line in lines)
    back = f'<span>{esc(return_address)}</span>' if return_address else ""
    return (f'<section class="dm-letter" id="letter-{item.id}">'
            f'<div class="dm-window"><p class="dm-return">{back}</p><p class="dm-recipient">{recipient}</p></div>'
            f'<div class="dm-body">{body_of(item.fields.get("html") or "")}</div></section>')


def document_html(content: dict[str, Any], letters: list[str]) -> str:
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><style>" + (content.get("css") or "") + "\n"
            + print_css(content) + "</style></head><body>" + "".join(letters) + "</body></html>")


def page_ranges(document, ids: list[int]) -> dict[int, tuple[int, int]]:
    """{message id: (first page, last page)}, 1-based, from the page each letter's anchor
    lands on: a letter runs until the page before the next one starts."""
    starts: dict[int, int] = {}
    for number, page in enumerate(document.pages, start=1):
        for anchor in page.anchors:
            if anchor.startswith("letter-"):
                starts.setdefault(int(anchor[7:]), number)
    ordered = [i for i in ids if i in starts]
    ranges = {}
    for position, message_pk in enumerate(ordered):
        first = starts[message_pk]
        last = starts[ordered[position + 1]] - 1 if position + 1 < len(ordered) else len(document.pages)
        ranges[message_pk] = (first, max(first, last))
    return ranges


def storage_dir(delivery) -> str:
    return f"directmail/{delivery.workspace_id}/{delivery.pk}"


def record_file(delivery_pk: int, entry: dict[str, Any]) -> None:
    """Add (or replace, by path) a file of the delivery, under the row lock: parallel
    sending tasks each add their batches without losing one another's."""
    from ..models import Delivery  # noqa: PLC0415

    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().only("files").get(pk=delivery_pk)
        files = [f for f in (delivery.files or []) if f.get("path") != entry["path"]]
        files.append(entry)
        Delivery.objects.filter(pk=delivery_pk).update(files=files)


class DirectMailProvider:
    batch = True

    def __init__(self, delivery, config):
        self.delivery, self.config = delivery, config
        self.content = delivery.content or {}
        self.address = None

    def open(self):
        if self.address is None:
            self.address = AddressLines(self.delivery.workspace_id)

    def close(self):
        self.address = None

    def render(self, items: list[Outgoing]) -> tuple[bytes, dict[int, tuple[int, int]]]:
        """One PDF for the batch and each letter's pages in it."""
        from weasyprint import HTML  # noqa: PLC0415 - heavy: only sending workers need it

        self.open()
        return_address = str(self.content.get("return_address") or "").strip()
        letters = [letter_html(item, self.address.lines(item.context.get("profile") or {}), return_address)
                   for item in items]
        document = HTML(string=document_html(self.content, letters), base_url=STATIC_BASE,
                        url_fetcher=LetterFetcher()).render()
        if len(document.pages) > MAX_PAGES_PER_LETTER * len(items):
            raise ValueError(f"{len(document.pages)} pages for {len(items)} letter(s): more than "
                             f"{MAX_PAGES_PER_LETTER} pages a letter")
        drop_attachments(document)
        ranges = page_ranges(document, [item.id for item in items])
        return document.write_pdf(), ranges

    def broken_letters(self, items: list[Outgoing]) -> dict[int, Exception]:
        """Each letter of a batch that failed, laid out alone: the ones that fail again."""
        broken: dict[int, Exception] = {}
        for item in items:
            try:
                self.render([item])
            except Exception as exc:  # noqa: BLE001 - this recipient's letter fails, not the batch
                broken[item.id] = RuntimeError(f"the letter cannot be laid out: {type(exc).__name__}: {exc}")
        return broken

    def send_batch(self, items: list[Outgoing]) -> dict[int, str | Exception]:
        if not items:
            return {}
        items = sorted(items, key=lambda item: item.id)
        name = f"dm-{self.delivery.pk}-{items[0].id}.pdf"
        path = f"{storage_dir(self.delivery)}/{name}"
        results: dict[int, str | Exception] = {}
        try:
            pdf, ranges = self.render(items)
        except Exception:  # noqa: BLE001 - one letter's markup broke the layout: find it, print the rest
            broken = self.broken_letters(items)
            results.update(broken)
            items = [item for item in items if item.id not in broken]
            if not items:
                return results
            pdf, ranges = self.render(items)
        try:
            if default_storage.exists(path):
                default_storage.delete(path)  # the same batch again after a crash: replace it
            path = default_storage.save(path, ContentFile(pdf))
        except OSError as exc:  # storage down or full: the whole batch waits and comes again
            raise Retryable("storage", f"{type(exc).__name__}: {exc}") from exc
        name = path.rsplit("/", 1)[-1]
        record_file(self.delivery.pk, {"name": name, "path": path, "kind": "letters", "letters": len(ranges),
                                       "pages": max((r[1] for r in ranges.values()), default=0),
                                       "size": len(pdf)})
        for item in items:
            pages = ranges.get(item.id)
            if pages is None:
                results[item.id] = RuntimeError("the letter is missing from the rendered PDF")
            else:
                first, last = pages
                results[item.id] = f"{name}#p{first}" if first == last else f"{name}#p{first}-{last}"
        return results
