"""Integer input can never exceed what PostgreSQL stores.

A serializer or form IntegerField without bounds lets 2**63 through to psycopg
("int too large to convert") or 2**31 into an `integer` column (DataError): a 500 either
way. `install_default_bounds` (run once from CoreConfig.ready) gives every DRF and Django
IntegerField declared without a bound the bigint range, so the outermost guard is
everywhere, input and OpenAPI schema alike; a field that feeds an `integer` column
declares the tighter INT_MAX itself (a ModelSerializer's generated fields take it from
the model already)."""

from __future__ import annotations

import functools

BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1  # PostgreSQL `integer` (PositiveIntegerField, IntegerField)


def _bounded(init):
    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        if kwargs.get("max_value") is None:
            kwargs["max_value"] = BIGINT_MAX
        if kwargs.get("min_value") is None:
            kwargs["min_value"] = BIGINT_MIN
        init(self, *args, **kwargs)

    __init__._orchestrate_bounded = True  # type: ignore[attr-defined]
    return __init__


def install_default_bounds() -> None:
    from django import forms  # noqa: PLC0415
    from rest_framework import fields  # noqa: PLC0415

    for cls in (fields.IntegerField, forms.IntegerField):
        if not getattr(cls.__init__, "_orchestrate_bounded", False):
            cls.__init__ = _bounded(cls.__init__)
