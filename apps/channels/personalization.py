"""Personalization with the Jinja2 sandbox.

A template sees:
    profile      the recipient's attributes (the profile row)
    target       the row the message is about (the booking in one-message-per-booking;
                 the profile itself otherwise)
    enrichment   the columns the Enrichment activity added (a `first` enrichment gives
                 <name>__<attribute> columns)
    workspace    name, time_zone, language
    variables    the run's trigger variables
    message      id (and later the links of the consent layer)
    links        unsubscribe / preferences URLs (filled by the consent layer)
and the helpers:
    value|date("medium"|"short"|"long"|pattern)   a date in the recipient's language
    value|datetime("medium")                      a timestamp in the recipient's time zone
    value|money("EUR")                            an amount in the recipient's language
    value|number                                  a number in the recipient's language
    value|default("friend")                       Jinja's own: a fallback for missing values
    link("https://...", utm_campaign="x")         a URL with query parameters added
A template that does not compile, or that names an attribute the model does not have,
is rejected when it is saved (`check_content`), with the field, the line and the reason.
A template that fails while rendering one recipient fails that message, not the delivery.

Renders are bounded (apps/channels/sandbox.py): output size, the size of every text a
template builds, loop steps and time (settings PERSONALIZATION_RENDER_SECONDS,
PERSONALIZATION_MAX_CHARS, PERSONALIZATION_MAX_STEPS). A render past a bound raises
RenderLimit; a template that goes past one on its face is refused when it is saved.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import json
import zoneinfo
from itertools import islice
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from django.conf import settings
from inscriptis import get_text
from inscriptis.model.config import ParserConfig
from jinja2 import TemplateSyntaxError, nodes, pass_context

from . import sandbox
from .sandbox import BoundedSandbox, Budget, RenderLimit

TOP_LEVEL = ("profile", "target", "enrichment", "workspace", "variables", "message", "links")
# Fields of a content dict that are templates, per channel (the rest are plain settings).
TEMPLATE_FIELDS = {
    "email": ("subject", "preheader", "html", "text", "from_name"),
    "sms": ("text",),
    "push": ("title", "text", "url", "image_url"),
    "direct_mail": ("html",),
}
HTML_FIELDS = {"html"}
PUSH_PLATFORMS = ("web", "android", "ios")


def template_sources(channel: str, content: dict[str, Any]) -> list[tuple[str, Any]]:
    """(field, source) of every template in a content dict. Push's nested templates are
    named by their path: `data.<name>` for a text value of the data payload, and
    `overrides.<platform>.<field>` for a per-platform override; a sent message's rendered
    fields carry them under those names (providers/push.py reads them so)."""
    found = [(f, content.get(f)) for f in TEMPLATE_FIELDS.get(channel, ()) if content.get(f)]
    if channel != "push":
        return found
    data = content.get("data")
    if isinstance(data, str) and data.strip():
        try:
            data = json.loads(data)
        except ValueError:
            data = None
    if isinstance(data, dict):
        found += [(f"data.{k}", v) for k, v in data.items() if isinstance(v, str) and v]
    overrides = content.get("overrides")
    if isinstance(overrides, dict):
        for platform in PUSH_PLATFORMS:
            fields = overrides.get(platform)
            if isinstance(fields, dict):
                found += [(f"overrides.{platform}.{f}", v) for f, v in fields.items()
                          if f in TEMPLATE_FIELDS["push"] and v]
    return found


class TemplateProblem(Exception):
    """A template that cannot be used, in words: field, line, what is wrong."""

    def __init__(self, field: str, message: str, line: int | None = None):
        self.field, self.line, self.message = field, line, message
        where = f"{field}, line {line}" if line else field
        super().__init__(f"{where}: {message}")

    def as_dict(self) -> dict[str, Any]:
        return {"field": self.field, "line": self.line, "message": self.message}


def _locale(ctx) -> str:
    return (ctx.get("_locale") or "en").replace("-", "_")


def _parse_date(value):
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


@pass_context
def f_date(ctx, value, format: str = "medium"):  # Jinja's filter argument name
    value = _parse_date(value)
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        value = value.astimezone(_zone(ctx)).date() if value.tzinfo else value.date()
    if not isinstance(value, dt.date):
        return str(value)
    return babel_dates.format_date(value, format=format, locale=_locale(ctx))


@pass_context
def f_datetime(ctx, value, format: str = "medium"):
    value = _parse_date(value)
    if value is None or value == "":
        return ""
    if not isinstance(value, dt.datetime):
        return f_date(ctx, value, format)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return babel_dates.format_datetime(value, format=format, tzinfo=_zone(ctx), locale=_locale(ctx))


@pass_context
def f_money(ctx, value, currency: str = "EUR"):
    if value is None or value == "":
        return ""
    try:
        amount = decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        return str(value)
    return babel_numbers.format_currency(amount, currency, locale=_locale(ctx))


@pass_context
def f_number(ctx, value):
    if value is None or value == "":
        return ""
    try:
        return babel_numbers.format_decimal(decimal.Decimal(str(value)), locale=_locale(ctx))
    except decimal.InvalidOperation:
        return str(value)


def g_link(url: str, **params) -> str:
    parts = urlsplit(str(url))
    query = parse_qsl(parts.query, keep_blank_values=True) + [(k, str(v)) for k, v in params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


@functools.lru_cache(maxsize=256)
def _zone_named(name: str):
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def _zone(ctx):
    return _zone_named(ctx.get("_tz") or "UTC") or dt.UTC


class _Sandbox(BoundedSandbox):
    """The bounded sandbox (apps/channels/sandbox.py), with a fast path for the one thing every template does most: reading
    a column of a record (`profile.city`). An item of a Record is plain data, so it is
    returned without the attribute safety checks that methods and objects need (those
    checks cost more than the rest of the rendering); everything else goes the sandbox's
    way."""

    def getattr(self, obj, attribute):
        if type(obj) is Record:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


def _environment(autoescape: bool) -> BoundedSandbox:
    env = _Sandbox(autoescape=autoescape, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(date=f_date, datetime=f_datetime, money=f_money, number=f_number)
    env.globals.update(link=g_link)
    return env


HTML_ENV = _environment(autoescape=True)
TEXT_ENV = _environment(autoescape=False)
GLOBALS = dict(HTML_ENV.globals)  # what every render context starts from


def text_from_html(html: str) -> str:
    """The plain-text part from the HTML template itself (once per delivery, not per
    message): Jinja tags in the text survive, links are written out."""
    return get_text(html or "", ParserConfig(display_links=True)).strip() + "\n"


def _names_used(ast) -> list[tuple[str, str, int]]:
    """(top-level name, attribute, line) for every `profile.x` / `profile["x"]`."""
    found = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        base = node.node
        if isinstance(base, nodes.Name) and base.name in ("profile", "target", "enrichment"):
            if isinstance(node, nodes.Getattr):
                found.append((base.name, node.attr, node.lineno))
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                found.append((base.name, node.arg.value, node.lineno))
    return found


def check_content(channel: str, content: dict[str, Any], names: dict[str, set[str] | None] | None = None
                  ) -> list[TemplateProblem]:
    """Every problem of a content dict: syntax errors with their line, unknown top-level
    names, and attributes the model does not have. `names` maps profile / target /
    enrichment to the allowed attribute names (None: not checked)."""
    problems: list[TemplateProblem] = []
    names = names or {}
    for field, source in template_sources(channel, content):
        if not isinstance(source, str):
            problems.append(TemplateProblem(field, "must be text"))
            continue
        env = HTML_ENV if field in HTML_FIELDS else TEXT_ENV
        try:
            ast = env.parse(source)
        except TemplateSyntaxError as exc:
            problems.append(TemplateProblem(field, exc.message or "syntax error", exc.lineno))
            continue
        from jinja2 import meta  # noqa: PLC0415

        assigned = {n.name for n in ast.find_all(nodes.Name) if n.ctx in ("store", "param")}
        for name in sorted(meta.find_undeclared_variables(ast) - set(TOP_LEVEL) - set(env.globals) - assigned):
            line = next((n.lineno for n in ast.find_all(nodes.Name) if n.name == name), None)
            problems.append(TemplateProblem(
                field, f"unknown name {name!r}: use one of {', '.join(TOP_LEVEL)}", line))
        for top, attr, line in _names_used(ast):
            allowed = names.get(top)
            if allowed is not None and attr not in allowed:
                hint = ", ".join(sorted(allowed)[:12])
                problems.append(TemplateProblem(field, f"{top} has no attribute {attr!r} (it has: {hint})", line))
        try:
            template = env.from_string(source)
        except TemplateSyntaxError as exc:
            problems.append(TemplateProblem(field, exc.message or "syntax error", exc.lineno))
            continue
        problems.extend(bound_problems(field, env, ast, template))
    return problems


def bound_problems(field: str, env, ast, template) -> list[TemplateProblem]:
    """A template unbounded on its face: constant sizes and loop counts past the limits,
    then a trial render for a recipient with no data (what it does whatever the data)."""
    seconds, max_chars, max_steps = limits()
    found = [TemplateProblem(field, f"unbounded: {reason}", line)
             for reason, line in sandbox.unbounded(env, ast, Budget(seconds, max_chars, max_steps))]
    if found:
        return found
    try:
        render_bounded(template, {**GLOBALS, **TRIAL_CONTEXT}, Budget(seconds, max_chars, max_steps))
    except RenderLimit as exc:
        found.append(TemplateProblem(field, f"unbounded: {exc}", _template_line(exc)))
    except Exception:  # noqa: BLE001 - a recipient with no data may break it; real data is checked at send
        pass
    return found


def _template_line(exc: BaseException) -> int | None:
    """The template line the traceback Jinja rewrote ends on."""
    line, tb = None, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


class Record(dict):
    """A row for templates. NULL columns are left out, so a missing value is undefined:
    it renders as nothing and `default(...)` replaces it."""

    __slots__ = ()

    @classmethod
    def of(cls, row, hidden=()) -> Record:
        record = cls(row or ())
        for key in [k for k, v in record.items() if v is None or k in hidden]:
            del record[key]
        return record


# A recipient with no data, for the trial render at save.
TRIAL_CONTEXT = {"profile": Record(), "target": Record(), "enrichment": Record(), "variables": {},
                 "workspace": {"name": "", "time_zone": "UTC", "language": "en"}, "message": {"id": 0},
                 "links": {}, "_locale": "en", "_tz": "UTC"}


FIRST_BATCH, OUTPUT_BATCH = 64, 32


def render_bounded(template, context: dict[str, Any], budget: Budget) -> str:
    """The template rendered within `budget` (RenderLimit past it); the output is counted
    as it comes, so output past the limit stops the render instead of being built first."""
    token = sandbox.start(budget)
    try:
        limit = budget.max_chars
        chunks = template.root_render_func(template.new_context(context, shared=True))
        # Parts are read in batches (references: nothing is copied yet) and measured before
        # the next batch: a short message is one batch, cheaper than counting part by part.
        parts = list(islice(chunks, FIRST_BATCH))
        size = sum(map(len, parts))
        if size > limit:
            raise RenderLimit(f"the rendered message is longer than {limit:,} characters")
        if len(parts) == FIRST_BATCH:
            while batch := list(islice(chunks, OUTPUT_BATCH)):
                size += sum(map(len, batch))
                if size > limit:
                    raise RenderLimit(f"the rendered message is longer than {limit:,} characters")
                parts += batch
    except Exception:  # noqa: BLE001 - Jinja rewrites the traceback to the template's lines
        template.environment.handle_exception()
    finally:
        sandbox.stop(token)
    return "".join(parts)


def limits() -> tuple[float, int, int]:
    """(seconds, characters, steps) a render may use: see sandbox.Budget."""
    return (float(getattr(settings, "PERSONALIZATION_RENDER_SECONDS", sandbox.DEFAULT_SECONDS)),
            int(getattr(settings, "PERSONALIZATION_MAX_CHARS", sandbox.DEFAULT_MAX_CHARS)),
            int(getattr(settings, "PERSONALIZATION_MAX_STEPS", sandbox.DEFAULT_MAX_STEPS)))


SEPARATOR = "\x1e\x1f\x1e"  # between fields of the combined template; never in a template source


class Renderer:
    """The compiled templates of one delivery. `render(context)` returns every template
    field rendered; it raises on a recipient whose data breaks the template (the caller
    fails that message with the reason).

    All fields are compiled into ONE template (text fields inside autoescape-off blocks)
    and split after rendering: one Jinja context per message instead of one per field,
    which is most of the cost of rendering a short field."""

    def __init__(self, channel: str, content: dict[str, Any]):
        self.channel = channel
        content = dict(content)
        if channel == "email" and content.get("html") and not (content.get("text") or "").strip():
            content["text"] = text_from_html(content["html"])
        sources = template_sources(channel, content)
        self.fields = [f for f, _ in sources]
        parts = []
        for field, value in sources:
            source = str(value).replace(SEPARATOR, "")
            if field in HTML_FIELDS:
                parts.append(source)
            else:
                parts.append("{% autoescape false %}" + source + "{% endautoescape %}")
        self.template = HTML_ENV.from_string(SEPARATOR.join(parts)) if parts else None
        self.content = content
        self.limits = limits()

    def render(self, context: dict[str, Any]) -> dict[str, str]:
        """`context` must hold the environment's globals already (see `globals`): it is
        used as the template's context as it is, without the copy Template.render makes.
        Raises RenderLimit when the render goes past a bound (see sandbox.py)."""
        if self.template is None:
            return {}
        template = self.template
        if "link" not in context:
            context = {**GLOBALS, **context}
        text = render_bounded(template, context, Budget(*self.limits))
        values = text.split(SEPARATOR)
        if len(values) != len(self.fields):
            raise ValueError("the rendered content contains a reserved separator")
        return dict(zip(self.fields, values, strict=True))
