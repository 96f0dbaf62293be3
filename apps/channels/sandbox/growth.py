"""Checks before the filters and str methods that can grow a text far past their input
(padding, joining, replacing, formatting), each measured before it allocates."""

from __future__ import annotations

from typing import Any

from jinja2.filters import FILTERS

from .budget import check_printf, max_chars, spend, too_long, weight

# --- padding, joining and replacing, as filters and as str methods ----------------------

def _check_width(width: Any, text: Any = "") -> None:
    if isinstance(width, int):
        spend(max(width, len(text) if isinstance(text, str) else 0), "a padded text")


def bounded_items(value: Any, separator: Any = "") -> list:
    """The items of an iterable (read once), measured as they come: a generator of long
    texts is stopped at the limit, not read to the end."""
    limit, size, items = max_chars(), 0, []
    step = len(str(separator))
    for item in value:
        size += (len(item) if isinstance(item, str) else weight(item, limit)) + step
        if size > limit:
            raise too_long(size, "a joined text")
        items.append(item)
    spend(size, "a joined text")
    return items


def _check_replace(text: str, old: Any, new: Any, count: Any = -1) -> None:
    if not isinstance(new, str) or not isinstance(old, str):
        return
    found = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    spend(len(text) + found * max(len(new) - len(old), 0), "a replaced text")


def _check_str_method(method: Any, args: tuple, kwargs: dict) -> tuple:
    """Checks a call of a str method that can grow a text; returns the arguments to use
    (an iterable given to join is read once, here)."""
    name, text = method.__name__, method.__self__
    if name in ("center", "ljust", "rjust", "zfill"):
        _check_width(args[0] if args else kwargs.get("width"), text)
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            spend(len(text) + text.count("\t") * size, "an expanded text")
    elif name == "replace" and len(args) >= 2:
        _check_replace(text, *args[:3])
    elif name == "join" and args:
        args = (bounded_items(args[0], text), *args[1:])
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        spend(len(text) * max(longest, 1), "a translated text")
    return args


GROWING_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join", "translate"}


def _checked(name: str, check):
    """Jinja's filter `name`, with `check(*args, **kwargs)` first; `check` returns the
    arguments to call the filter with."""
    original = FILTERS[name]

    def wrapper(*args, **kwargs):
        args, kwargs = check(*args, **kwargs)
        return original(*args, **kwargs)

    if hasattr(original, "jinja_pass_arg"):
        wrapper.jinja_pass_arg = original.jinja_pass_arg
    wrapper.__name__ = original.__name__
    return wrapper


def _f_center(value, width=80):
    _check_width(width, str(value))
    return (value, width), {}


def _f_indent(s, width=4, first=False, blank=False):
    text = str(s)
    pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    spend(len(text) + (text.count("\n") + 1) * max(pad, 0), "an indented text")
    return (s, width, first, blank), {}


def _f_wordwrap(env, s, *args, **kwargs):
    wrapstring = kwargs.get("wrapstring", args[2] if len(args) > 2 else None)
    if wrapstring is not None:
        spend(len(str(s)) * (1 + len(str(wrapstring))), "a wrapped text")
    return (env, s, *args), kwargs


def _f_truncate(env, s, *args, **kwargs):
    end = kwargs.get("end", args[2] if len(args) > 2 else "")
    spend(len(str(end)), "a truncation mark")
    return (env, s, *args), kwargs


def _f_replace(ctx, s, old, new, count=None):
    _check_replace(str(s), old, new, -1 if count is None else count)
    return (ctx, s, old, new, count), {}


def _f_format(value, *args, **kwargs):
    check_printf(str(value))
    return (value, *args), kwargs


def _f_join(ctx, value, d="", attribute=None):
    return (ctx, value if isinstance(value, str) else bounded_items(value, d), d, attribute), {}


def _f_sum(env, iterable, attribute=None, start=0):
    if not isinstance(start, int | float):
        iterable = bounded_items(iterable)
        spend(weight(start, max_chars()) + sum(weight(i, max_chars()) for i in iterable), "a sum")
    return (env, iterable, attribute, start), {}


def _f_batch(value, linecount, fill_with=None):
    if fill_with is not None and isinstance(linecount, int):
        spend(weight(fill_with, max_chars()) * max(linecount, 0), "a filled batch")
    return (value, linecount, fill_with), {}


def _f_slice(value, slices, fill_with=None):
    if fill_with is not None and isinstance(slices, int):
        spend(weight(fill_with, max_chars()) * max(slices, 0), "a filled slice")
    return (value, slices, fill_with), {}


CHECKED_FILTERS = {"center": _f_center, "indent": _f_indent, "wordwrap": _f_wordwrap, "truncate": _f_truncate,
                   "replace": _f_replace, "format": _f_format, "join": _f_join, "sum": _f_sum,
                   "batch": _f_batch, "slice": _f_slice}


def bounded_lipsum(n=5, html=True, min=20, max=100):  # Jinja's own argument names
    from jinja2.utils import generate_lorem_ipsum  # noqa: PLC0415

    if isinstance(n, int) and isinstance(max, int):
        spend(n * max * 12, "lorem ipsum")  # about 12 characters a word, with markup
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)
