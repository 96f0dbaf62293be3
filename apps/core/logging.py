"""Logging filters."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from rest_framework import exceptions as drf_exceptions

# Outcomes of a request that are a normal answer, not a fault of the code.
EXPECTED = (PermissionDenied, drf_exceptions.PermissionDenied, drf_exceptions.NotAuthenticated)


class ExpectedErrorsFilter(logging.Filter):
    """Keep the one-line record of an expected error (Django logs "Forbidden (Permission
    denied): /path" with the exception attached) but drop its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], EXPECTED):
            record.exc_info = None
            record.exc_text = None
        return True
