"""Bits shared by the audience endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.db import OperationalError
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.renderers import BaseRenderer, JSONRenderer

from ..models import Audience, AudienceStatus
from ..selectors import COUNT_TIMEOUT_MS

TAGS = ["audiences"]


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The audience is not in a state that allows this."
    default_code = "conflict"


class EvaluationTimeout(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = (f"The evaluation took longer than {COUNT_TIMEOUT_MS // 1000} s and was stopped; "
                      f"narrow the rule or try again later.")
    default_code = "evaluation_timeout"


@contextmanager
def evaluating() -> Iterator[None]:
    """A live evaluation that hits its statement timeout is a 503 that says so, not a 500."""
    try:
        yield
    except OperationalError as exc:
        if isinstance(exc.__cause__, psycopg.errors.QueryCanceled):
            raise EvaluationTimeout() from None
        raise


def ready(audience: Audience) -> Audience:
    """A building or failed snapshot has no keys to read yet."""
    if audience.status != AudienceStatus.READY:
        detail = f"{audience.name!r} is {audience.get_status_display().lower()}"
        if audience.status_message:
            detail += f" ({audience.status_message})"
        raise Conflict(f"{detail}; it can be used once it is ready.")
    return audience


class CsvRenderer(BaseRenderer):
    """Lets a client ask for text/csv; errors on such a request come as JSON text."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return JSONRenderer().render(data)
