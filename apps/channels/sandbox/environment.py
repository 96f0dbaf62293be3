"""The bounded sandbox: Jinja's immutable sandbox whose loops, calls, operators, blocks and
namespaces are measured against the render's budget."""

from __future__ import annotations

import types
from typing import Any

from jinja2 import nodes, pass_context
from jinja2.runtime import Namespace
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .budget import (
    _BUDGET,
    CHECK_EVERY,
    MAX_INT_BITS,
    MAX_RANGE,
    Budget,
    RenderLimit,
    check_format,
    check_printf,
    check_size,
    max_chars,
    spend,
    too_long,
    weight,
)
from .growth import CHECKED_FILTERS, GROWING_METHODS, _check_str_method, _checked, bounded_lipsum


class BoundedNamespace(Namespace):
    """`namespace()`: the one place a template keeps a value from one loop step to the
    next, so the one place a value can double at every step; each value set is measured."""

    def __setitem__(self, name: str, value: Any) -> None:
        check_size(value, f"namespace value {name!r}")
        super().__setitem__(name, value)


SIZED = (list, tuple, range, str, dict)


@pass_context  # never evaluated at compile time (Jinja folds no context filter)
def guard_iter(_context, iterable):
    """The iterable of a {% for %} loop, counted against the render's budget: a short list
    is paid for when the loop starts (no cost per step; the clock is still read every
    CHECK_EVERY steps), anything else step by step."""
    budget = _BUDGET.get()
    if budget is None:
        return iterable
    if isinstance(iterable, SIZED) and len(iterable) <= CHECK_EVERY:
        budget.charge(len(iterable))
        return iterable
    return _ticking(iterable, budget)


def _ticking(iterable, budget: Budget):
    for item in iterable:
        budget.tick()
        yield item


def bounded_range(*args: int) -> range:
    for arg in args:
        if isinstance(arg, int) and abs(arg) > 10**18:
            raise RenderLimit("a range bound is too large")
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise RenderLimit(f"range() of {len(rng):,} items is over the limit of {MAX_RANGE:,}")
    return rng


class _GuardLoops:
    """Wraps the iterable of every for loop of a parsed template in guard_iter, as a filter:
    a filter is called directly, without the sandbox's checks of a call."""

    @staticmethod
    def apply(ast: nodes.Template) -> nodes.Template:
        for loop in ast.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, GUARD_FILTER, [], [], None, None, lineno=loop.iter.lineno)
        return ast


GUARD_FILTER = "loop_guard"


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the bounds of the module's docstring."""

    intercepted_binops = frozenset(["*", "**", "+", "%"])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.globals["range"] = bounded_range
        self.globals["namespace"] = BoundedNamespace
        self.globals["lipsum"] = bounded_lipsum
        self.filters[GUARD_FILTER] = guard_iter
        for name, check in CHECKED_FILTERS.items():
            self.filters[name] = _checked(name, check)

    def _parse(self, source, name, filename):
        ast = _GuardLoops.apply(super()._parse(source, name, filename))
        ast.set_environment(self)
        return ast

    @staticmethod
    def concat(parts) -> str:
        """Joins the output of a macro, a captured block or a recursive loop."""
        if type(parts) is not list:
            parts = list(parts)
        spend(sum(map(len, parts)), "a block's output")
        return "".join(parts)

    def call(__self, __context, __obj, *args, **kwargs):  # Jinja's own signature
        budget = _BUDGET.get()
        if budget is not None:
            budget.tick()
        if isinstance(__obj, types.BuiltinMethodType | types.MethodType) and isinstance(
                getattr(__obj, "__self__", None), str) and __obj.__name__ in GROWING_METHODS:
            args = _check_str_method(__obj, args, kwargs)
        for arg in args:
            # a macro that calls itself with a doubled text doubles it at each level
            if isinstance(arg, str) and len(arg) > max_chars():
                raise too_long(len(arg), "an argument")
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context, operator, left, right):
        if operator == "*":
            _check_mul(left, right)
        elif operator == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                limit = max_chars()
                spend(weight(left, limit) + weight(right, limit), "a sum")
        elif operator == "**":
            if (isinstance(left, int) and isinstance(right, int) and right > 1 and abs(left) > 1
                    and abs(left).bit_length() * right > MAX_INT_BITS):
                raise RenderLimit(f"{left} ** {right} is too large a number")
        elif operator == "%" and isinstance(left, str):
            check_printf(left)
        return self.binop_table[operator](left, right)

    def wrap_str_format(self, value):
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template = value.__self__

        def checked(*args, **kwargs):
            check_format(template)
            return wrapped(*args, **kwargs)

        return checked


def _check_mul(left: Any, right: Any) -> None:
    if isinstance(left, int) and not isinstance(right, int):
        left, right = right, left
    if not isinstance(right, int):
        return
    if isinstance(left, str | list | tuple):
        spend(weight(left, max_chars()) * max(right, 0), "a repeated text or list")
    elif isinstance(left, int) and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
        raise RenderLimit("the product is too large a number")


