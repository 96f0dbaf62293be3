"""The visual editor's block documents: validated against their schema with precise
errors, compiled with MJML to responsive email HTML where tenant text is escaped and
the only template code is the personalization fields; stored on the template."""

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.channels import blocks
from apps.channels.configuration import template_write
from apps.channels.models import ContentTemplate
from apps.channels.personalization import Renderer


def doc(*items, **extra):
    return {"version": 1, "blocks": list(items), **extra}


def messages(document):
    return [p.message for p in blocks.validate(document)]


def test_every_block_type_compiles_to_responsive_mjml_html():
    html = blocks.compile_blocks(doc(
        {"type": "text", "style": "heading", "text": "Spring sale", "align": "center", "color": "#112233"},
        {"type": "text", "text": "First line\nsecond line\n\nNew paragraph"},
        {"type": "image", "src": "https://cdn.example.com/a.png", "alt": "A beach", "width": 300,
         "href": "https://example.com/beach"},
        {"type": "button", "label": "Book now", "href": "https://example.com/book?a=1&b=2", "color": "#ff0000"},
        {"type": "divider", "thickness": 2},
        {"type": "spacer", "height": 30},
        {"type": "columns", "columns": [{"blocks": [{"type": "text", "text": "Left"}]},
                                        {"blocks": [{"type": "text", "text": "Right"}]}]},
        background="#eeeeee"))
    assert html.startswith("<!doctype html>")
    # responsive: the columns stack under 480px, and the viewport is the device's
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    media = re.search(r"@media only screen and \(min-width:480px\) \{[^<]*\}", html).group(0)
    assert ".mj-column-per-50 { width:50% !important; max-width:50%; }" in media
    assert "Spring sale</h2>" in html and "First line<br />second line</p>" in html and "New paragraph</p>" in html
    assert 'src="https://cdn.example.com/a.png"' in html and 'alt="A beach"' in html
    assert 'href="https://example.com/beach"' in html
    assert 'href="https://example.com/book?a=1&amp;b=2"' in html and "Book now" in html
    assert "Left" in html and "Right" in html and 'bgcolor="#ff0000"' in html
    # client-safe: no web fonts fetched from elsewhere, Outlook conditionals present
    assert "fonts.googleapis" not in html and "<!--[if mso | IE]>" in html


def test_tenant_text_is_escaped_and_only_personalization_fields_are_template_code():
    html = blocks.compile_blocks(doc(
        {"type": "text", "text": '<script>alert(1)</script> {{ 7*7 }} {% for x in y %} {# c #} '
                                 'Hi {{ profile.first_name|default("friend") }} & {{target.city}}'},
        {"type": "button", "label": "Go {{ profile.first_name }}", "href": "https://example.com"},
        {"type": "image", "src": "https://example.com/i.png", "alt": '"><img src=x onerror=alert(1)> {{ x }}'}))
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "onerror=alert(1)>" not in html and "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in html
    assert re.findall(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", html) == [
        '{{ profile.first_name|default("friend") }}', "{{ target.city }}", "{{ profile.first_name }}"]
    # rendered through the sandbox like any HTML body: the fields are filled and escaped
    fields = Renderer("email", {"html": html, "text": "-"}).render({"profile": {"first_name": "<b>Ann</b>"},
                                                                     "target": {"city": "Lyon"}})
    assert "Hi &lt;b&gt;Ann&lt;/b&gt; &amp; Lyon" in fields["html"]
    assert "&#123;&#123; 7*7 &#125;&#125;" in html and "49" not in fields["html"]


@pytest.mark.parametrize(("block", "message"), [
    ({"type": "button", "label": "Go", "href": "javascript:alert(1)"},
     "blocks[0].href: must be an http:// or https:// address, not 'javascript:alert(1)'"),
    ({"type": "image", "src": "data:image/png;base64,AAAA"},
     "blocks[0].src: must be an http:// or https:// address, not 'data:image/png;base64,AAAA'"),
    ({"type": "image", "src": "https://x.com/a.png", "href": "vbscript:x"},
     "blocks[0].href: must be an http:// or https:// address, not 'vbscript:x'"),
    ({"type": "text", "text": "x", "color": "red;background:url(x)"},
     "blocks[0].color: must be a colour like #1a2b3c, not 'red;background:url(x)'"),
    ({"type": "text", "text": "x" * 5001}, "blocks[0].text: at most 5000 characters"),
    ({"type": "spacer", "height": 5000}, "blocks[0].height: a whole number from 5 to 120"),
    ({"type": "script", "text": "x"}, "blocks[0]: unknown block type 'script' (one of text, image, button, "
                                      "divider, spacer, columns)"),
    ({"type": "text", "text": "x", "onclick": "y"}, "blocks[0]: unknown field(s): onclick"),
    ({"type": "button", "label": "Go"}, "blocks[0]: 'href' is required"),
    ({"type": "columns", "columns": [{"blocks": []}]}, "blocks[0].columns: 2 or 3 columns"),
])
def test_bad_blocks_are_refused_with_a_precise_error(block, message):
    assert messages(doc(block)) == [message]
    with pytest.raises(blocks.BlocksError) as caught:
        blocks.compile_blocks(doc(block))
    assert caught.value.problems[0].field == "blocks"


def test_columns_do_not_nest_and_the_document_is_bounded():
    nested = {"type": "columns", "columns": [{"blocks": [{"type": "columns", "columns": []}]}, {"blocks": [
        {"type": "button", "label": "x", "href": "ftp://x"}]}]}
    assert messages(doc(nested)) == [
        "blocks[0].columns[0].blocks[0]: unknown block type 'columns' (one of text, image, button, divider, spacer)",
        "blocks[0].columns[1].blocks[0].href: must be an http:// or https:// address, not 'ftp://x'"]
    assert messages(doc(*[{"type": "divider"}] * 81)) == ["at most 80 blocks (this one has 81)"]
    assert messages(doc(*[{"type": "text", "text": "y" * 4000}] * 30)) == ["the document is over 100 KB"]
    assert messages("{not json") == ["is not a JSON document"]
    assert messages({"blocks": [], "script": 1}) == ["unknown field(s): script"]


def test_a_visual_template_is_stored_as_its_document_and_compiled_html(workspace, travel, mallory):
    document = doc({"type": "text", "text": "Hello {{ profile.first_name }}"})
    template = template_write(workspace=workspace, actor=mallory, name="Visual", channel="email",
                              content={"subject": "Hi", "blocks": json.dumps(document), "html": "<p>ignored</p>"})
    template = ContentTemplate.objects.get(pk=template.pk)
    assert template.content["blocks"] == document
    assert "Hello {{ profile.first_name }}</p>" in template.content["html"] and "ignored" not in \
        template.content["html"]


def test_a_visual_template_naming_an_unknown_attribute_or_a_bad_url_is_not_saved(workspace, travel, mallory):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        template_write(workspace=workspace, actor=mallory, name="Visual", channel="email", content={
            "subject": "Hi", "blocks": doc({"type": "button", "label": "Go", "href": "javascript:x"})})
    assert caught.value.problems == [{"field": "blocks", "line": None, "message":
                                      "blocks[0].href: must be an http:// or https:// address, not 'javascript:x'"}]
    with pytest.raises(ValidationError) as caught:
        template_write(workspace=workspace, actor=mallory, name="Visual", channel="email", content={
            "subject": "Hi", "blocks": doc({"type": "text", "text": "Hi {{ profile.nickname }}"})})
    assert [p["field"] for p in caught.value.problems] == ["html"] and "nickname" in \
        caught.value.problems[0]["message"]
    assert not ContentTemplate.objects.filter(workspace=workspace).exists()


def test_text_takes_bold_italic_and_http_links_and_nothing_else():
    html = blocks.compile_blocks(doc({"type": "text", "text": (
        "Read **our offer**, *today*, at [the site](https://example.com/a?b=1&c=2). "
        "[bad](javascript:alert(1)) [quote](https://x.com\" onclick=\"y) [star](https://x.com/*b*) 2 * 3 * 4 "
        "**{{ profile.first_name }}**")}))
    body = html[html.index("Read"):html.index("</p>", html.index("Read"))]
    assert body == (
        'Read <strong>our offer</strong>, <em>today</em>, at '
        '<a href="https://example.com/a?b=1&amp;c=2" style="color:#2563eb;">the site</a>. '
        "[bad](javascript:alert(1)) [quote](https://x.com&quot; onclick=&quot;y) [star](https://x.com/<em>b</em>) "
        "2 * 3 * 4 <strong>{{ profile.first_name }}</strong>")


def test_the_api_takes_a_block_document_and_compiles_it(workspace, travel, client):
    from tests.factories import make_api_key

    key = make_api_key(workspace, role="marketer", name="blocks")[1]
    body = {"name": "Visual", "channel": "email", "content": {
        "subject": "Hi", "blocks": doc({"type": "text", "text": "Hello **{{ profile.first_name }}**"})}}
    created = client.post(f"/api/v1/workspaces/{workspace.slug}/templates/", json.dumps(body),
                          content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert created.status_code == 201, created.content
    assert "Hello <strong>{{ profile.first_name }}</strong></p>" in created.json()["content"]["html"]
    body["name"], body["content"]["blocks"] = "Bad", doc({"type": "image", "src": "javascript:x"})
    refused = client.post(f"/api/v1/workspaces/{workspace.slug}/templates/", json.dumps(body),
                          content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert (refused.status_code, refused.json()) == (400, {"problems": [{
        "field": "blocks", "line": None,
        "message": "blocks[0].src: must be an http:// or https:// address, not 'javascript:x'"}]})


JSON = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=30),
                    lambda children: st.lists(children, max_size=4) | st.dictionaries(
                        st.sampled_from(["type", "text", "href", "src", "blocks", "columns", "color", "size",
                                         "width", "label", "x"]), children, max_size=5), max_leaves=25)
BLOCK = st.fixed_dictionaries({"type": st.sampled_from(list(blocks.BLOCK_TYPES) + ["x"])},
                              optional={"text": JSON, "href": JSON, "src": JSON, "columns": JSON, "label": JSON,
                                        "size": JSON, "color": JSON})


@settings(max_examples=150, deadline=None)
@given(st.one_of(JSON, st.fixed_dictionaries({"blocks": st.lists(BLOCK, max_size=5)})))
def test_any_document_gets_problems_or_compiles_never_a_crash(document):
    problems = blocks.validate(document)
    assert all(p.field == "blocks" and p.message for p in problems)
    if not problems:
        html = blocks.compile_blocks(document)
        assert html.startswith("<!doctype html>")
