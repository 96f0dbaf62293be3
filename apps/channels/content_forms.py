"""The SMS and push content fields shared by the template editor and the canvas side
panel: a push message's data payload as key/value rows and its per-platform overrides,
read from a posted form (also when the form has errors elsewhere, for the live counter,
preview and check) and written back as initial values."""

from __future__ import annotations

import json
import re
from typing import Any

from django import forms

PLATFORMS = (("web", "Web"), ("android", "Android"), ("ios", "iOS"))
OVERRIDE_FIELDS = (("title", "Title"), ("text", "Body"))
# Push content the forms edit (the rest, e.g. an override's url set over the API, is kept).
PUSH_SCALARS = ("title", "text", "url", "image_url", "ttl", "collapse_key")
MIN_DATA_ROWS, MAX_DATA_ROWS = 3, 40
DATA_ROW = re.compile(r"^(?:[a-z]+-)?data_key_(\d+)$")


def data_row_count(content: dict[str, Any] | None, posted=None, prefix: str = "") -> int:
    """Rows to show: the posted ones, or the saved pairs plus two empty ones."""
    if posted is not None:
        indexes = [int(m.group(1)) for name in posted if (m := DATA_ROW.match(name))
                   and name.startswith(prefix)]
        if indexes:
            return min(max(max(indexes) + 1, MIN_DATA_ROWS), MAX_DATA_ROWS)
    data = _data_dict((content or {}).get("data"))
    return min(max(len(data) + 2, MIN_DATA_ROWS), MAX_DATA_ROWS)


def push_extra_fields(rows: int) -> dict[str, forms.Field]:
    """The data rows and the per-platform override fields of a push form."""
    fields: dict[str, forms.Field] = {}
    for i in range(rows):
        fields[f"data_key_{i}"] = forms.CharField(required=False, max_length=100, label=f"Data name {i + 1}",
                                                  widget=forms.TextInput(attrs={"class": "data-key",
                                                                                "placeholder": "name"}))
        fields[f"data_value_{i}"] = forms.CharField(required=False, max_length=1000, strip=False,
                                                    label=f"Data value {i + 1}",
                                                    widget=forms.TextInput(attrs={"class": "data-value",
                                                                                  "placeholder": "value"}))
    for platform, platform_label in PLATFORMS:
        for field, field_label in OVERRIDE_FIELDS:
            fields[f"override_{platform}_{field}"] = forms.CharField(
                required=False, strip=False, label=f"{platform_label} {field_label.lower()}",
                widget=forms.TextInput(attrs={"placeholder": f"{field_label} on {platform_label}"}))
    return fields


def _data_dict(value) -> dict[str, Any]:
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return value if isinstance(value, dict) else {}


def push_extra_initial(content: dict[str, Any]) -> dict[str, str]:
    """Initial values of the data rows and override fields from saved content."""
    initial: dict[str, str] = {}
    for i, (key, value) in enumerate(list(_data_dict(content.get("data")).items())[:MAX_DATA_ROWS]):
        initial[f"data_key_{i}"] = str(key)
        initial[f"data_value_{i}"] = value if isinstance(value, str) else json.dumps(value)
    overrides = content.get("overrides") if isinstance(content.get("overrides"), dict) else {}
    for platform, _ in PLATFORMS:
        values = overrides.get(platform) if isinstance(overrides.get(platform), dict) else {}
        for field, _ in OVERRIDE_FIELDS:
            initial[f"override_{platform}_{field}"] = values.get(field) or ""
    return initial


def push_extra_content(get, prefix: str = "", before: dict[str, Any] | None = None) -> dict[str, Any]:
    """{"data": ..., "overrides": ...} from posted values (`get(name)` of a QueryDict or of
    cleaned data), keeping the override fields these forms do not edit from `before`.
    A value without a name is kept under an empty name: the check names it."""
    data: dict[str, str] = {}
    for i in range(MAX_DATA_ROWS):
        key, value = get(f"{prefix}data_key_{i}"), get(f"{prefix}data_value_{i}")
        if key is None and value is None:
            continue
        key, value = (key or "").strip(), value or ""
        if key or value:
            data[key] = value
    previous = (before or {}).get("overrides") if isinstance((before or {}).get("overrides"), dict) else {}
    overrides: dict[str, dict[str, str]] = {}
    for platform, _ in PLATFORMS:
        kept = previous.get(platform) if isinstance(previous.get(platform), dict) else {}
        values = {k: v for k, v in kept.items() if k not in dict(OVERRIDE_FIELDS)}
        for field, _ in OVERRIDE_FIELDS:
            value = get(f"{prefix}override_{platform}_{field}") or ""
            if value:
                values[field] = value
        if values:
            overrides[platform] = values
    extra: dict[str, Any] = {}
    if data:
        extra["data"] = data
    if overrides:
        extra["overrides"] = overrides
    return extra


def push_cards(fields: dict[str, str], content: dict[str, Any]) -> list[dict[str, Any]]:
    """How the notification shows on each platform: the fields (rendered, or as written),
    with the platform's overrides on top (rendered ones under `overrides.<platform>.<field>`),
    as providers/push.py builds it; the data payload as pairs."""
    overrides = content.get("overrides") if isinstance(content.get("overrides"), dict) else {}
    data = _data_dict(content.get("data"))
    pairs = [(str(k), str(fields.get(f"data.{k}", v))) for k, v in data.items()]
    cards = []
    for platform, label in PLATFORMS:
        values = {f: fields.get(f, "") for f in ("title", "text", "url", "image_url")}
        own = overrides.get(platform) if isinstance(overrides.get(platform), dict) else {}
        for name, value in own.items():
            if name in values and isinstance(value, str) and value:
                values[name] = fields.get(f"overrides.{platform}.{name}", value)
        cards.append({"platform": platform, "label": label, "data": pairs, **values})
    return cards


class PushExtraMixin:
    """What the push templates (_push_extra.html) read of a form with push_extra_fields."""

    data_rows = MIN_DATA_ROWS
    field_prefix = ""

    def data_row_fields(self) -> list[tuple]:
        return [(self[f"data_key_{i}"], self[f"data_value_{i}"]) for i in range(self.data_rows)]

    def override_fields(self) -> list[tuple[str, list]]:
        return [(label, [self[f"override_{p}_{f}"] for f, _ in OVERRIDE_FIELDS]) for p, label in PLATFORMS]

    def has_overrides(self) -> bool:
        return any(self[f"override_{p}_{f}"].value() for p, _ in PLATFORMS for f, _ in OVERRIDE_FIELDS)
