"""A render's budget (time, steps, characters), the error past it, and the measures the
checks share: sizes of values and the widths of format strings."""

from __future__ import annotations

import re
import string
import time
from contextvars import ContextVar
from typing import Any

DEFAULT_SECONDS = 2.0
DEFAULT_MAX_CHARS = 2_000_000
DEFAULT_MAX_STEPS = 1_000_000
MAX_RANGE = 100_000  # Jinja's own bound on one range()
MAX_INT_BITS = 100_000  # an integer of more bits is no amount anyone prints
MAX_FORMAT_WIDTH = 10_000  # a padding or precision in a format string
CHECK_EVERY = 256  # steps between two readings of the clock


class RenderLimit(Exception):
    """A render went past one of its bounds; the message says which."""


SPEND_FACTOR = 20  # the characters a render may build in all, in multiples of max_chars


class Budget:
    __slots__ = ("deadline", "max_chars", "max_steps", "next_check", "seconds", "spent", "steps")

    def __init__(self, seconds: float = DEFAULT_SECONDS, max_chars: int = DEFAULT_MAX_CHARS,
                 max_steps: int = DEFAULT_MAX_STEPS):
        self.seconds, self.max_chars, self.max_steps = seconds, max_chars, max_steps
        self.deadline = time.monotonic() + seconds
        self.steps = max_steps
        self.next_check = max_steps - CHECK_EVERY
        self.spent = 0

    def spend(self, size: int) -> None:
        """Texts and lists built one after another (a padding filter mapped over a long
        list) are each within max_chars; together they are bounded too."""
        self.spent += size
        if self.spent > self.max_chars * SPEND_FACTOR:
            raise RenderLimit(f"the template builds more than {self.max_chars * SPEND_FACTOR:,} characters in all")

    def tick(self) -> None:
        self.steps -= 1
        if self.steps < self.next_check:
            self.check()

    def charge(self, steps: int) -> None:
        """`steps` steps at once (a short loop, paid for when it starts)."""
        self.steps -= steps
        if self.steps < self.next_check:
            self.check()

    def check(self) -> None:
        if self.steps <= 0:
            raise RenderLimit(f"the template runs more than {self.max_steps:,} loop steps and calls")
        if time.monotonic() > self.deadline:
            raise RenderLimit(f"the template takes longer than {self.seconds:g} s to render")
        self.next_check = self.steps - CHECK_EVERY


_BUDGET: ContextVar[Budget | None] = ContextVar("render_budget", default=None)
_UNLIMITED_CHARS = DEFAULT_MAX_CHARS  # size bound of renders outside a budget (compile-time checks)


def start(budget: Budget):
    return _BUDGET.set(budget)


def stop(token) -> None:
    _BUDGET.reset(token)


def max_chars() -> int:
    budget = _BUDGET.get()
    return budget.max_chars if budget is not None else _UNLIMITED_CHARS


def too_long(size: int, what: str = "a text") -> RenderLimit:
    return RenderLimit(f"{what} of {size:,} characters is longer than the limit of {max_chars():,}")


def spend(size: int, what: str) -> None:
    """A text or list of `size` characters and items is about to be built."""
    if size > max_chars():
        raise too_long(size, what)
    budget = _BUDGET.get()
    if budget is not None:
        budget.spend(size)


def weight(value: Any, limit: int) -> int:
    """The characters and items a value holds, counting shared parts each time they appear
    (as a join or tojson would write them); stops counting past `limit`."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple | dict):
        total = len(value)
        items = value.items() if isinstance(value, dict) else value
        for item in items:
            if total > limit:
                break
            total += weight(item, limit - total) if isinstance(item, list | tuple | dict | str) else 0
        return total
    return 1


def check_size(value: Any, what: str = "a value") -> None:
    limit = max_chars()
    if isinstance(value, str | list | tuple | dict) and (size := weight(value, limit)) > limit:
        raise too_long(size, what)


# --- format strings -----------------------------------------------------------------

_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


def check_printf(template: str) -> None:
    for match in _PRINTF.finditer(template):
        for part in match.groups():
            if part == "*" or (part and int(part) > MAX_FORMAT_WIDTH):
                raise RenderLimit(f"a width or precision in {template[:40]!r} is over {MAX_FORMAT_WIDTH:,}")


def check_format(template: str) -> None:
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # str.format raises the same error itself
    for _literal, _name, spec, _conversion in fields:
        if not spec:
            continue
        if "{" in spec:
            raise RenderLimit(f"a width taken from an argument in {template[:40]!r} is not allowed")
        if any(int(d) > MAX_FORMAT_WIDTH for d in _DIGITS.findall(spec)):
            raise RenderLimit(f"a width or precision in {template[:40]!r} is over {MAX_FORMAT_WIDTH:,}")
