"""What every API shares: bounded integer parameters, limit/offset pagination that refuses
what DRF lets through, and one exception handler. (The workspace scoping of every view is
tenants' WorkspaceScopedMixin, in apps/tenants/api/scoping.py.)"""

from __future__ import annotations

import re
from typing import Any

from django.http import Http404
from rest_framework import exceptions
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.views import exception_handler as drf_exception_handler

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
#: largest value of a PostgreSQL bigint: ids, offsets and counts never go past it
BIGINT_MAX = 2**63 - 1
_INTEGER = re.compile(r"-?[0-9]{1,19}")


def bounded_int(raw: str, *, name: str, minimum: int, maximum: int) -> int:
    """A query parameter as an int in [minimum, maximum], else a 400 naming it."""
    message = f"must be a whole number from {minimum} to {maximum}."
    # int() would also take "1_000", "٣" and 4,300 digits: a bounded pattern first
    if not _INTEGER.fullmatch(raw):
        raise exceptions.ValidationError({name: [message]})
    value = int(raw)
    if not minimum <= value <= maximum:
        raise exceptions.ValidationError({name: [message]})
    return value


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """limit/offset pagination that refuses what DRF lets through: a limit above
    `max_limit` (one answer of a million rows) or past a bigint, a negative or huge
    offset, or junk (silently read as the default before) are each a 400 naming the
    parameter. The bounds are in the OpenAPI schema too."""

    max_limit = 500
    max_offset = BIGINT_MAX

    def get_limit(self, request):
        raw = request.query_params.get(self.limit_query_param)
        if raw is None or raw == "":
            return self.default_limit
        return bounded_int(raw, name=self.limit_query_param, minimum=1, maximum=self.max_limit)

    def get_offset(self, request):
        raw = request.query_params.get(self.offset_query_param)
        if raw is None or raw == "":
            return 0
        return bounded_int(raw, name=self.offset_query_param, minimum=0, maximum=self.max_offset)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        bounds = {self.limit_query_param: {"minimum": 1, "maximum": self.max_limit},
                  self.offset_query_param: {"minimum": 0, "maximum": self.max_offset}}
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters


def exception_handler(exc: Exception, context: dict[str, Any]):
    """DRF's handler, plus Django ValidationError as a 400 with field messages. An error
    that lists `problems` (a rule's RuleError: [{"path", "message"}, ...]) is a 400
    {"problems": [...]}, so every endpoint taking a rule answers alike."""
    from django.core.exceptions import ValidationError  # noqa: PLC0415

    problems = getattr(exc, "problems", None)
    if isinstance(exc, Http404):
        # one answer for every missing thing: get_object_or_404's "No ApiKey matches the
        # given query." names the model and differs from the scoping mixin's 404
        exc = exceptions.NotFound()
    elif isinstance(exc, ValidationError) and isinstance(problems, list):
        exc = exceptions.ValidationError({"problems": problems})
    elif isinstance(exc, ValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = exceptions.ValidationError(detail)
    return drf_exception_handler(exc, context)
