"""SMS text encoding and segments (3GPP TS 23.038 / 23.040): a text that fits the GSM 7-bit
default alphabet (with its extension table, whose characters take two septets) goes as
GSM-7, 160 septets in one message or 153 per part of a concatenated one; anything else
goes as UCS-2, 70 UTF-16 units in one message or 67 per part (a character outside the
BMP, an emoji, takes two). Pure functions: the editor, the test run and the send agree."""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7_SINGLE, GSM7_PART = 160, 153  # septets; a part gives 7 to the concatenation header
UCS2_SINGLE, UCS2_PART = 70, 67  # UTF-16 units; a part gives 3 to the header
MAX_SEGMENTS_CEILING = 10  # a workspace's limit may not exceed this (carriers drop longer ones)


@dataclass(frozen=True)
class SmsText:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int  # units one segment holds at this length
    non_gsm: str  # the characters that forced UCS-2 (first 10 distinct), "" for GSM-7

    def as_dict(self) -> dict:
        return {"encoding": self.encoding, "units": self.units, "segments": self.segments,
                "per_segment": self.per_segment, "non_gsm": self.non_gsm}


def analyse(text: str) -> SmsText:
    """Encoding, length in units and segment count of one message's text."""
    text = text or ""
    septets, others = 0, []
    for ch in text:
        if ch in GSM7_BASIC:
            septets += 1
        elif ch in GSM7_EXTENSION:
            septets += 2
        elif ch not in others:
            others.append(ch)
    if not others:
        if septets <= GSM7_SINGLE:
            return SmsText("GSM-7", septets, 1 if septets else 0, GSM7_SINGLE, "")
        return SmsText("GSM-7", septets, _parts_gsm(text), GSM7_PART, "")
    units = len(text.encode("utf-16-le")) // 2
    if units <= UCS2_SINGLE:
        return SmsText("UCS-2", units, 1, UCS2_SINGLE, "".join(others[:10]))
    return SmsText("UCS-2", units, _parts_ucs2(text), UCS2_PART, "".join(others[:10]))


def _parts_gsm(text: str) -> int:
    """Segments of a long GSM-7 text: an escape sequence (extension character) is never
    split between two parts, so a part may hold 152 septets."""
    parts, used = 1, 0
    for ch in text:
        size = 2 if ch in GSM7_EXTENSION else 1
        if used + size > GSM7_PART:
            parts, used = parts + 1, 0
        used += size
    return parts


def _parts_ucs2(text: str) -> int:
    """Segments of a long UCS-2 text: a surrogate pair is never split between two parts."""
    parts, used = 1, 0
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > UCS2_PART:
            parts, used = parts + 1, 0
        used += size
    return parts


def cost(segments: int, price_per_segment: float | None) -> float | None:
    """What `segments` segments cost at the workspace's price (None: no price set)."""
    if price_per_segment is None:
        return None
    return round(segments * float(price_per_segment), 6)


def amount_text(value: float | None) -> str:
    """A price or cost as written, without float noise or trailing zeros (0.0075, 0.15, 3)."""
    if value is None:
        return ""
    from decimal import Decimal  # noqa: PLC0415

    text = f"{Decimal(str(round(float(value), 6))):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def limit_problem(info: SmsText, max_segments: int | None) -> str:
    """Why a message is refused for its length ("" when it may go)."""
    limit = max_segments or MAX_SEGMENTS_CEILING
    if info.segments > limit:
        return (f"{info.segments} segments ({info.units} {info.encoding} "
                f"{'septets' if info.encoding == 'GSM-7' else 'characters'}) is over the limit of {limit} "
                f"segment{'s' if limit != 1 else ''} per message")
    return ""
