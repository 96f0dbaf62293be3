"""Validators shared by the apps."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

LINE_BREAKING = re.compile(r"[\r\n\x00]")


@deconstructible
class OneLine:
    """Text that ends up in an email header (a sender name, a workspace name in a
    subject): a line break or NUL would add headers or start the body."""

    message = "must be one line: line breaks and NUL characters are not allowed"

    def __call__(self, value) -> None:
        if value and LINE_BREAKING.search(str(value)):
            raise ValidationError(self.message, code="line_break")

    def __eq__(self, other) -> bool:
        return isinstance(other, OneLine)


one_line = OneLine()
