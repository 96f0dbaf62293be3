"""Phone numbers to E.164 with `phonenumbers` (Google's libphonenumber): a number written
nationally ("020 7946 0018") is read in the recipient's country (ISO 3166 alpha-2, from the
profile) or else the workspace's default region. Invalid numbers get a reason."""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers

REASONS = {
    "invalid_phone": "not a valid phone number",
    "no_region": "a national number without a country (set the workspace's default region)",
}


def region_of(value: str | None) -> str | None:
    """An ISO 3166 alpha-2 code phonenumbers knows, or None."""
    code = (value or "").strip().upper()
    return code if code in phonenumbers.SUPPORTED_REGIONS else None


def normalize(value: str, region: str | None = None) -> tuple[str, str]:
    """(E.164 number, "") or ("", reason)."""
    raw = (value or "").strip()
    region = region_of(region)
    if not raw.startswith("+") and not raw.startswith("00") and region is None:
        return "", "no_region"
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return "", "invalid_phone"
    if not phonenumbers.is_valid_number(number):
        return "", "invalid_phone"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), ""


def normalize_many(pairs: Iterable[tuple[str, str | None]]) -> dict[tuple[str, str | None], tuple[str, str]]:
    """Each distinct (number, region) once: audiences repeat numbers and regions."""
    return {pair: normalize(*pair) for pair in set(pairs)}
