"""Bits shared by the campaign endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse
from rest_framework import status
from rest_framework.exceptions import APIException

from ..graph import GraphError
from . import serializers as s

TAGS = ["campaigns"]

PROBLEMS = OpenApiResponse(s.CampaignProblems, description="The definition's problems, each naming its activity.")
CONFLICT = OpenApiResponse(s.ConflictDetail, description="The campaign's state does not allow this; `detail` says why.")


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The campaign is not in a state that allows this."
    default_code = "conflict"


@contextmanager
def lifecycle() -> Iterator[None]:
    """A service's refusal about the campaign's state (a sentence, no field) is a 409;
    a definition's problems (GraphError) and a field's error (a taken name) stay 400s."""
    try:
        yield
    except GraphError:
        raise
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            raise
        raise Conflict(" ".join(exc.messages)) from None
