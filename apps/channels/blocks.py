"""The visual email editor's documents: a list of blocks (text, image, button, divider,
spacer, columns of those) kept as JSON on an email template (`content["blocks"]`),
checked against a JSON schema per block type, and compiled server-side to responsive,
client-safe email HTML with MJML (the Rust port, mrml, through mjml-python).

Why MJML compiled here and not a vendored JS block editor that emits HTML: the HTML that
is sent is built on the server from a validated document, so nothing a browser posts
reaches the email as markup. Tenant text is escaped; links and images are absolute
http(s) addresses; the only template code in the output is the personalization fields
(`{{ profile.first_name }}`, optionally `|default("friend")`), which then go through the
same sandboxed rendering, checks against the data model and click tracking as a
hand-written HTML body."""

from __future__ import annotations

import html
import json
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator

from .personalization import TemplateProblem

DOC_MAX_BYTES = 100_000  # the JSON document: a long newsletter is ~20 KB
MAX_BLOCKS = 80  # every block, those inside columns too
TEXT_MAX = 5000
FIELD = "blocks"

COLOR = {"type": "string", "pattern": r"^#[0-9a-fA-F]{6}$"}
URL = {"type": "string", "maxLength": 2000, "pattern": r"^https?://[^\s\"'<>\\{}`]+$"}
ALIGN = {"enum": ["left", "center", "right"]}


def _block(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": ["type", *required],
            "properties": {"type": {"type": "string"}, "id": {"type": "string", "maxLength": 40}, **properties}}


BLOCK_SCHEMAS: dict[str, dict[str, Any]] = {
    "text": _block({"text": {"type": "string", "maxLength": TEXT_MAX},
                    "style": {"enum": ["paragraph", "heading"]}, "align": ALIGN, "color": COLOR,
                    "size": {"type": "integer", "minimum": 10, "maximum": 48}}, ("text",)),
    "image": _block({"src": URL, "alt": {"type": "string", "maxLength": 300},
                     "href": {"anyOf": [URL, {"const": ""}]},
                     "width": {"type": "integer", "minimum": 40, "maximum": 600}}, ("src",)),
    "button": _block({"label": {"type": "string", "minLength": 1, "maxLength": 200}, "href": URL,
                      "color": COLOR, "text_color": COLOR, "align": ALIGN}, ("label", "href")),
    "divider": _block({"color": COLOR, "thickness": {"type": "integer", "minimum": 1, "maximum": 8}}),
    "spacer": _block({"height": {"type": "integer", "minimum": 5, "maximum": 120}}),
    "columns": _block({"columns": {"type": "array", "minItems": 2, "maxItems": 3,
                                   "items": {"type": "object", "additionalProperties": False,
                                             "required": ["blocks"],
                                             "properties": {"blocks": {"type": "array"}}}}}, ("columns",)),
}
DOC_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["blocks"],
              "properties": {"version": {"const": 1}, "background": COLOR, "content_background": COLOR,
                             "blocks": {"type": "array"}}}
BLOCK_TYPES = tuple(BLOCK_SCHEMAS)
IN_COLUMNS = tuple(t for t in BLOCK_TYPES if t != "columns")
_VALIDATORS = {name: Draft202012Validator(schema) for name, schema in {**BLOCK_SCHEMAS, "doc": DOC_SCHEMA}.items()}

# A personalization field: an attribute of the profile, the target row, the enrichment or
# the workspace, optionally with a plain fallback text. Anything else with braces is text.
PLACEHOLDER = re.compile(r"\{\{\s*(profile|target|enrichment|workspace)\.([A-Za-z_][A-Za-z0-9_]{0,62})"
                         r"(?:\s*\|\s*default\(\s*(?P<q>[\"'])(?P<fallback>[^\"'{}\\<>]{0,100})(?P=q)\s*\))?\s*\}\}")
INLINE_LINK = re.compile(r"\[([^\[\]\n]{1,300})\]\((https?://[^\s()<>*\"']{1,2000})\)")
INLINE_BOLD = re.compile(r"\*\*(?=\S)([^*\n]{1,1000}?)(?<=\S)\*\*")
INLINE_ITALIC = re.compile(r"(?<![*\w])\*(?=\S)([^*\n]{1,1000}?)(?<=\S)\*(?![*\w])")
_JINJA_OPENER = re.compile(r"\{(?=[{%#])")


class BlocksError(ValueError):
    """The document does not hold: every problem, each naming the block and field."""

    def __init__(self, problems: list[TemplateProblem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def _where(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out.lstrip(".")


def _message(error) -> str:
    kind, schema, value = error.validator, error.schema, error.instance
    shown = repr(value)[:80] if not isinstance(value, dict | list) else type(value).__name__
    if kind == "pattern" and schema is URL or (kind == "anyOf" and error.path and error.path[-1] == "href"):
        return f"must be an http:// or https:// address, not {shown}"
    if kind == "pattern" and schema is COLOR:
        return f"must be a colour like #1a2b3c, not {shown}"
    if kind == "pattern":
        return f"{shown} is not allowed here"
    if kind == "maxLength":
        return f"at most {schema['maxLength']} characters"
    if kind == "minLength":
        return "must not be empty"
    if kind in ("minimum", "maximum"):
        return f"a whole number from {schema.get('minimum')} to {schema.get('maximum')}"
    if kind == "enum":
        return f"one of {', '.join(map(str, schema['enum']))}, not {shown}"
    if kind == "additionalProperties":
        extra = sorted(set(value) - set(schema.get("properties", {})))
        return f"unknown field(s): {', '.join(extra)[:200]}"
    if kind == "required":
        return error.message.replace("is a required property", "is required")
    if kind in ("minItems", "maxItems"):
        return "2 or 3 columns" if error.path and error.path[-1] == "columns" else error.message[:200]
    if kind == "type":
        return f"must be {schema['type']}"
    return error.message[:200]


def validate(doc: Any) -> list[TemplateProblem]:
    """Every problem of a block document, each as `blocks[2].href: must be ...`."""
    if isinstance(doc, str):
        if len(doc.encode()) > DOC_MAX_BYTES:
            return [TemplateProblem(FIELD, f"the document is over {DOC_MAX_BYTES // 1000} KB")]
        try:
            doc = json.loads(doc)
        except ValueError:
            return [TemplateProblem(FIELD, "is not a JSON document")]
    if len(json.dumps(doc)) > DOC_MAX_BYTES:
        return [TemplateProblem(FIELD, f"the document is over {DOC_MAX_BYTES // 1000} KB")]
    problems: list[TemplateProblem] = []

    def add(path, message: str) -> None:
        where = _where(path)
        problems.append(TemplateProblem(FIELD, f"{where}: {message}" if where else message))

    for error in sorted(_VALIDATORS["doc"].iter_errors(doc), key=lambda e: list(e.path)):
        add(error.path, _message(error))
    if problems:
        return problems
    count = 0

    def walk(blocks: list, path: list, allowed: tuple[str, ...]) -> None:
        nonlocal count
        for i, block in enumerate(blocks):
            here = [*path, i]
            count += 1
            if not isinstance(block, dict) or block.get("type") not in allowed:
                kind = block.get("type") if isinstance(block, dict) else None
                add(here, f"unknown block type {str(kind)[:40]!r} (one of {', '.join(allowed)})"
                          if kind is not None else "a block is an object with a type")
                continue
            errors = sorted(_VALIDATORS[block["type"]].iter_errors(block), key=lambda e: list(e.path))
            for error in errors:
                add([*here, *error.path], _message(error))
            if block["type"] == "columns" and not errors:
                for c, column in enumerate(block["columns"]):
                    walk(column["blocks"], [*here, "columns", c, "blocks"], IN_COLUMNS)
            for name in ("src", "href"):
                url = block.get(name)
                if isinstance(url, str) and url and not errors and not urlsplit(url).hostname:
                    add([*here, name], f"must be an http:// or https:// address with a host, not {url[:80]!r}")

    walk(doc["blocks"], ["blocks"], BLOCK_TYPES)
    if count > MAX_BLOCKS:
        add([], f"at most {MAX_BLOCKS} blocks (this one has {count})")
    return problems


class _Compiler:
    link_color = "#2563eb"

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(6)
        self.fields: list[str] = []

    def _field(self, match: re.Match) -> str:
        scope, name, fallback = match.group(1), match.group(2), match.group("fallback")
        expr = f"{scope}.{name}" + (f'|default("{fallback}")' if fallback is not None else "")
        self.fields.append("{{ " + expr + " }}")
        return f"ph{self.nonce}n{len(self.fields) - 1}x"

    def text(self, value: str, inline: bool = False) -> str:
        """Escaped text with the personalization fields as markers (filled in at the end);
        a literal brace becomes an entity so that it never opens template code. With
        `inline`, the light markup a marketer types: **bold**, *italic*, [words](https://...)."""
        out, last = [], 0
        for match in PLACEHOLDER.finditer(value):
            out.append(html.escape(value[last:match.start()]).replace("{", "&#123;").replace("}", "&#125;"))
            out.append(self._field(match))
            last = match.end()
        out.append(html.escape(value[last:]).replace("{", "&#123;").replace("}", "&#125;"))
        escaped = "".join(out)
        if not inline:
            return escaped
        # On the escaped text: a link's address is http(s) and can hold no quote nor tag.
        escaped = INLINE_LINK.sub(lambda m: f'<a href="{m.group(2)}" style="color:{self.link_color};">'
                                            f'{m.group(1)}</a>', escaped)
        escaped = INLINE_BOLD.sub(r"<strong>\1</strong>", escaped)
        return INLINE_ITALIC.sub(r"<em>\1</em>", escaped)

    def attr(self, value: str) -> str:
        return html.escape(value, quote=True)

    def block(self, b: dict[str, Any]) -> str:
        kind = b["type"]
        if kind == "text":
            heading = b.get("style") == "heading"
            size = b.get("size") or (24 if heading else 15)
            paragraphs = [p for p in re.split(r"\n\s*\n", b.get("text") or "") if p.strip()] or [""]
            inner = "".join(
                f'<{"h2" if heading else "p"} style="margin:0 0 10px;font-size:{size}px;'
                f'{"font-weight:bold;" if heading else ""}">'
                + "<br>".join(self.text(line, inline=True) for line in p.split("\n"))
                + f'</{"h2" if heading else "p"}>' for p in paragraphs)
            return (f'<mj-text align="{b.get("align", "left")}" color="{b.get("color", "#222222")}" '
                    f'font-size="{size}px" line-height="1.5">{inner}</mj-text>')
        if kind == "image":
            href = f' href="{self.attr(b["href"])}"' if b.get("href") else ""
            return (f'<mj-image src="{self.attr(b["src"])}" alt="{self.attr(self.plain(b.get("alt", "")))}"'
                    f' width="{b.get("width", 600)}px"{href} />')
        if kind == "button":
            return (f'<mj-button href="{self.attr(b["href"])}" background-color="{b.get("color", "#2563eb")}" '
                    f'color="{b.get("text_color", "#ffffff")}" align="{b.get("align", "center")}" '
                    f'font-size="16px" inner-padding="12px 24px">{self.text(b["label"])}</mj-button>')
        if kind == "divider":
            return (f'<mj-divider border-color="{b.get("color", "#dddddd")}" '
                    f'border-width="{b.get("thickness", 1)}px" />')
        if kind == "spacer":
            return f'<mj-spacer height="{b.get("height", 20)}px" />'
        raise AssertionError(kind)

    def plain(self, value: str) -> str:
        # alt text: no fields (a mail app shows it raw), no braces that open template code
        return value.replace("{", "(").replace("}", ")")

    def section(self, b: dict[str, Any], background: str) -> str:
        if b["type"] == "columns":
            columns = "".join("<mj-column>" + "".join(self.block(x) for x in c["blocks"]) + "</mj-column>"
                              for c in b["columns"])
            return f'<mj-section background-color="{background}">{columns}</mj-section>'
        return f'<mj-section background-color="{background}"><mj-column>{self.block(b)}</mj-column></mj-section>'

    def mjml(self, doc: dict[str, Any]) -> str:
        background = doc.get("background", "#f4f4f4")
        content = doc.get("content_background", "#ffffff")
        sections = "".join(self.section(b, content) for b in doc["blocks"])
        # A web-safe font stack: MJML's default (Ubuntu) would add a link to a font service.
        # One section per block: thin section padding, so blocks sit as close as in the editor.
        return ('<mjml><mj-head><mj-attributes><mj-all font-family="Arial, Helvetica, sans-serif" />'
                '<mj-section padding="4px 0" /></mj-attributes></mj-head>'
                f'<mj-body background-color="{background}" width="600px">{sections}</mj-body></mjml>')


def compile_blocks(doc: Any) -> str:
    """The email HTML of a block document, or BlocksError with every problem."""
    import mjml  # noqa: PLC0415 - a compiled extension, loaded when an email is built

    problems = validate(doc)
    if problems:
        raise BlocksError(problems)
    if isinstance(doc, str):
        doc = json.loads(doc)
    compiler = _Compiler()
    out = mjml.mjml2html(compiler.mjml(doc))
    # MJML's own CSS and conditional comments must not open template code either.
    out = _JINJA_OPENER.sub("{{ '{' }}", out)
    for i, field in enumerate(compiler.fields):
        out = out.replace(f"ph{compiler.nonce}n{i}x", field)
    return out


def starter() -> dict[str, Any]:
    """A new visual template's document."""
    return {"version": 1, "background": "#f4f4f4", "content_background": "#ffffff", "blocks": [
        {"type": "text", "style": "heading", "text": "Hello {{ profile.first_name|default(\"there\") }}"},
        {"type": "text", "text": "Write your message here."},
        {"type": "button", "label": "Find out more", "href": "https://example.com"},
    ]}
