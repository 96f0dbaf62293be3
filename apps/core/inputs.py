"""Guards for text and JSON that come from outside (query strings, form values, JSON
bodies, JSON typed into form fields).

PostgreSQL refuses NUL (U+0000) in text and jsonb, and psycopg cannot encode a lone
surrogate (U+D800..U+DFFF) to UTF-8: either one, let through, becomes a 500 deep in a
query. Deeply nested JSON exhausts the parser's recursion (another 500) and every walk
over it afterwards. So every way in checks once, at the edge, and answers 400 naming
the field:

- `HostileInputMiddleware` for the path, query strings and form values (API and UI);
- `GuardedJSONParser` for DRF JSON bodies;
- `json_loads_checked` for every json.loads of request data in views and forms.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from rest_framework import exceptions
from rest_framework.parsers import JSONParser

#: deepest nesting of arrays/objects accepted in request JSON (a rule tree or a campaign
#: definition needs ~10; 64 leaves room and keeps every recursive walk far from the limit)
MAX_JSON_DEPTH = 64

_BAD_CHAR = re.compile("[\x00\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class InputRejected(ValueError):
    """A value refused at the edge: `field` names where it was, `message` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None."""
    found = _BAD_CHAR.search(value)
    if found is None:
        return None
    char = found.group()
    if char == "\x00":
        return "contains a NUL character (U+0000), which cannot be stored."
    return f"contains a lone surrogate (U+{ord(char):04X}), which is not valid Unicode."


def has_surrogate(value: str) -> bool:
    return _SURROGATE.search(value) is not None


def check_text(value: str, field: str) -> None:
    problem = text_problem(value)
    if problem:
        raise InputRejected(field, problem)


def _child(path: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def check_json_tree(value: Any, field: str = "", *, max_depth: int = MAX_JSON_DEPTH, text: bool = True) -> None:
    """Refuse nesting deeper than `max_depth` and (with `text`) strings, keys too, that
    cannot be stored. Iterative, so a deep document cannot exhaust the stack here either."""
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, str):
            if not text:
                continue
            check_text(node, path or "body")
        elif isinstance(node, dict | list):
            if depth >= max_depth:
                # named by its top-level field: the full path would be 64 "[0]"s long
                top = re.split(r"[.\[]", path, maxsplit=1)[0] if path else ""
                raise InputRejected(top or field or "body", f"JSON nested deeper than {max_depth} levels.")
            items = node.items() if isinstance(node, dict) else enumerate(node)
            for key, child in items:
                if text and isinstance(key, str):
                    problem = text_problem(key)
                    if problem:
                        raise InputRejected(_child(path, "<key>"), f"a key {problem}")
                stack.append((child, _child(path, key), depth + 1))


def json_loads_checked(text: str | bytes, *, field: str = "", max_depth: int = MAX_JSON_DEPTH,
                       check_strings: bool = True) -> Any:
    """json.loads for request data: ValueError (InputRejected for depth and bad characters,
    json.JSONDecodeError for syntax) instead of a RecursionError or a value the database
    refuses later."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise InputRejected(field or "body", f"JSON nested deeper than {max_depth} levels.") from None
    check_json_tree(value, field, max_depth=max_depth, text=check_strings)
    return value


class GuardedJSONParser(JSONParser):
    """DRF's JSON parser with the depth limit and the text checks: a 400 naming the field.

    A view that reports bad values itself, row by row (a record batch in "skip bad rows"
    mode must keep the good rows), sets `json_strings_checked_by_view = True`: then only
    the depth is checked here."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(f"JSON parse error - the body is not {encoding}: {exc.reason}.") from None
        view = parser_context.get("view")
        check_strings = not getattr(view, "json_strings_checked_by_view", False)
        try:
            return json_loads_checked(text, check_strings=check_strings)
        except InputRejected as exc:
            raise exceptions.ValidationError({exc.field: [exc.message]}) from None
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None


def _rejected_response(request, field: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        return JsonResponse({field: [message]}, status=400)
    return HttpResponse(f"Bad request: {field} {message}", status=400, content_type="text/plain; charset=utf-8")


class HostileInputMiddleware:
    """400 for a query parameter or form field holding NUL or a lone surrogate (404 for such
    a path), before any view (or the CSRF check, or a login attempt) puts it into a query."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        if text_problem(request.path):
            # nothing is named with a NUL: no such page (the same 404 as any unknown path)
            from apps.core.views import not_found  # noqa: PLC0415

            return not_found(request)
        try:
            self.check(request)
        except InputRejected as exc:
            return _rejected_response(request, exc.field, exc.message)
        return self.get_response(request)

    @staticmethod
    def check(request) -> None:
        sources = [("query parameter", request.GET)]
        content_type = request.content_type or ""
        if request.method not in ("GET", "HEAD", "OPTIONS") and content_type in FORM_TYPES:
            sources.append(("form field", request.POST))
        for _label, data in sources:
            for key, values in data.lists():
                check_text(key, "parameter name")
                for value in values:
                    check_text(value, key)


__all__ = ["MAX_JSON_DEPTH", "InputRejected", "check_text", "check_json_tree", "json_loads_checked",
           "GuardedJSONParser", "HostileInputMiddleware", "text_problem", "has_surrogate"]
