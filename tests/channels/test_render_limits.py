"""Renders of tenant templates are bounded in size, steps and time: a template past a bound
fails its message (or its preview) with the reason, and one unbounded on its face is
refused when it is saved, through the API, the editor and a campaign's channel content."""

import time

import pytest
from django.urls import reverse

from apps.campaigns.graph import GraphError, check_graph
from apps.channels.models import ContentTemplate, Delivery, Message
from apps.channels.personalization import Renderer, check_content
from apps.channels.sandbox import RenderLimit
from tests.channels.test_sending import live_run
from tests.channels.test_templates_api import api  # noqa: F401 - the fixture

LIMIT = "is longer than the limit of 2,000,000"


def render(source: str, profile=None) -> str:
    return Renderer("sms", {"text": source}).render({"profile": profile or {}})["text"]


@pytest.mark.parametrize(("source", "reason"), [
    ("{{ 'a' * 10**8 }}", f"a repeated text or list of 100,000,000 characters {LIMIT}"),
    ("{{ ['ab'] * 10**7 }}", f"a repeated text or list of 30,000,000 characters {LIMIT}"),
    ("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
     "the template runs more than 1,000,000 loop steps and calls"),
    ("{% set s = 'a' * 100000 %}{% for i in s %}{% for j in s %}{% endfor %}{% endfor %}",
     "the template runs more than 1,000,000 loop steps and calls"),
    ("{% set ns = namespace(s='a') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
     f"namespace value 's' of 2,097,152 characters {LIMIT}"),
    ("{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% endif %}{% endmacro %}{{ d('a', 60) }}",
     f"an argument of 2,097,152 characters {LIMIT}"),
    ("{{ 'a'|center(999999999) }}", f"a padded text of 999,999,999 characters {LIMIT}"),
    ("{{ 'a'.ljust(999999999) }}", f"a padded text of 999,999,999 characters {LIMIT}"),
    ("{{ ('a' * 100000)|replace('a', 'a' * 100000) }}", f"a replaced text of 10,000,000,000 characters {LIMIT}"),
    ("{{ '{:>999999999}'.format(1) }}", "a width or precision in '{:>999999999}' is over 10,000"),
    ("{{ '%999999999d' % 1 }}", "a width or precision in '%999999999d' is over 10,000"),
    ("{{ 2 ** 10000000 }}", "2 ** 10000000 is too large a number"),
    ("{{ range(10**9)|list }}", "range() of 1,000,000,000 items is over the limit of 100,000"),
    ("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
     "the rendered message is longer than 2,000,000 characters"),
    ("{{ range(100000)|map('center', 1000000)|list|length }}",
     "the template builds more than 40,000,000 characters in all"),
    ("{{ lipsum(1000000) }}", f"lorem ipsum of 1,200,000,000 characters {LIMIT}"),
])
def test_a_render_past_a_bound_stops_with_the_reason(source, reason):
    started = time.monotonic()
    with pytest.raises(RenderLimit) as raised:
        render(source)
    assert str(raised.value) == reason
    assert time.monotonic() - started < 2


def test_a_render_past_its_time_stops(settings):
    # given a budget of steps too large to stop it and a short time
    settings.PERSONALIZATION_MAX_STEPS = 10**12
    settings.PERSONALIZATION_RENDER_SECONDS = 0.3
    started = time.monotonic()
    with pytest.raises(RenderLimit) as raised:
        render("{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}{% endfor %}{% endfor %}")
    assert str(raised.value) == "the template takes longer than 0.3 s to render"
    assert 0.3 <= time.monotonic() - started < 1.5


def test_ordinary_templates_render_as_before():
    source = ("Hi {{ profile.name|default('friend') }}: {% for i in range(3) %}{{ i * 2 }},{% endfor %} "
              "{{ '%05d' % 42 }} {{ 'ab' * 3 }} [{{ 'x'|center(5) }}] {{ ['a', 'b']|join('-') }} "
              "{{ '{:>4}'.format(7) }} {{ 'a-b'.replace('-', '+') }} {{ (profile.tags or [])|join(', ') }} "
              "{% set ns = namespace(n=0) %}{% for t in profile.tags %}{% set ns.n = ns.n + 1 %}{% endfor %}"
              "{{ ns.n }} {{ 2 ** 10 }}")
    assert render(source, {"name": "Ana", "tags": ["x", "y"]}) == \
        "Hi Ana: 0,2,4, 00042 ababab [  x  ] a-b    7 a+b x, y 2 1024"


@pytest.mark.parametrize(("source", "problem"), [
    ("<p>{{ 'a' * 10**8 }}</p>", ("html", 1, f"unbounded: a repeated text or list of 100,000,000 characters {LIMIT}")),
    ("<p>\n{% if profile.vip %}{{ 'x'|center(10**9) }}{% endif %}</p>",
     ("html", 2, f"unbounded: a padded text of 1,000,000,000 characters {LIMIT}")),
    ("{% for i in range(100000) %}\n{% for j in range(100000) %}{% endfor %}{% endfor %}",
     ("html", 2, "unbounded: the loops here run 10,000,000,000 times, more than the limit of 1,000,000 steps")),
    ("<p>\n{% set ns = namespace(s='a') %}\n{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
     ("html", 3, f"unbounded: namespace value 's' of 2,097,152 characters {LIMIT}")),
])
def test_a_template_unbounded_on_its_face_is_a_problem(source, problem):
    assert [(p.field, p.line, p.message) for p in check_content("email", {"html": source})] == [problem]


def test_a_template_bounded_by_its_data_is_not(settings):
    for source in ("{{ 'x' * (profile.customer_id * 4000) }}",
                   "{% for i in range(10000) %}{% for t in profile.tags %}{{ t }}{% endfor %}{% endfor %}"):
        assert check_content("email", {"html": source}) == []


UNBOUNDED = "<p>{{ 'a' * 10**8 }}</p>"


def test_the_api_refuses_to_save_an_unbounded_template(workspace, travel, api):  # noqa: F811
    response = api(workspace, "marketer", "POST", "templates/", {"name": "Big", "channel": "email", "content": {
        "subject": "Hi", "html": UNBOUNDED}})
    assert response.status_code == 400
    assert response.json()["problems"] == [
        {"field": "html", "line": 1,
         "message": f"unbounded: a repeated text or list of 100,000,000 characters {LIMIT}"}]
    assert not ContentTemplate.objects.filter(workspace=workspace).exists()
    template = ContentTemplate.objects.create(workspace=workspace, name="Ok", channel="email",
                                              content={"subject": "Hi", "html": "<p>ok</p>"})
    patched = api(workspace, "marketer", "PATCH", f"templates/{template.pk}/", {"content": {
        "subject": "Hi", "html": UNBOUNDED}})
    assert patched.status_code == 400
    template.refresh_from_db()
    assert template.content["html"] == "<p>ok</p>"


def test_the_editor_refuses_to_save_an_unbounded_template(workspace, travel, mallory, client_for):
    response = client_for(mallory).post(reverse("tpl-new", kwargs={"workspace_slug": workspace.slug}), {
        "name": "Big", "channel": "email", "entity_key": "", "page_size": "A4", "subject": "Hi", "html": UNBOUNDED})
    assert response.status_code == 422
    assert "<strong>html</strong>, line 1: unbounded: a repeated text" in response.content.decode()
    assert not ContentTemplate.objects.filter(workspace=workspace).exists()


def test_a_campaign_with_unbounded_channel_content_does_not_validate(workspace, travel):
    definition = {"nodes": [{"id": "start", "type": "start", "settings": {}},
                            {"id": "who", "type": "build_audience", "settings": {"definition": {
                                "entity": "customer", "rule": {"attr": "customer_id", "op": "gte", "value": 0}}}},
                            {"id": "mail", "type": "email", "settings": {"content": {"subject": "Hi",
                                                                                     "html": UNBOUNDED}}},
                            {"id": "end", "type": "end", "settings": {}}],
                  "edges": [{"from": "start", "outlet": "out", "to": "who"},
                            {"from": "who", "outlet": "out", "to": "mail"},
                            {"from": "mail", "outlet": "out", "to": "end"}]}
    with pytest.raises(GraphError) as raised:
        check_graph(workspace=workspace, definition=definition)
    assert raised.value.problems == [{"node": "mail", "message": "html, line 1: unbounded: a repeated text or list "
                                                                 f"of 100,000,000 characters {LIMIT}"}]


DATA_BOUND = {"subject": "Hi", "html": "<p>{{ 'x' * (profile.customer_id * 4000) }}</p>", "text": "Hello"}


def test_a_message_past_a_bound_fails_with_the_reason_and_the_others_go(settings, workspace, travel, email_config,
                                                                        sink, queue, sends):
    settings.PERSONALIZATION_MAX_CHARS = 10_000
    run = live_run(workspace, settings={"content": DATA_BOUND})
    queue()
    sends()
    delivery = Delivery.objects.get(run=run)
    messages = {m.target_key: m for m in Message.objects.filter(delivery=delivery)}
    assert {k: m.status for k, m in messages.items()} == {"1": "sent", "2": "sent", "3": "failed"}
    assert (messages["3"].reason, messages["3"].error) == (
        "render_error", "RenderLimit: a repeated text or list of 12,000 characters is longer than the limit of 10,000")
    assert sorted(r.rcpt_tos[0] for r in sink.received()) == ["anna@example.test", "ben@example.test"]


def test_a_preview_past_a_bound_answers_400_over_the_api(settings, workspace, travel, api):  # noqa: F811
    settings.PERSONALIZATION_MAX_CHARS = 10_000
    template = ContentTemplate.objects.create(workspace=workspace, name="Big", channel="email", content=DATA_BOUND)
    ok = api(workspace, "marketer", "POST", f"templates/{template.pk}/preview/", {"key": "2"})
    assert ok.status_code == 200 and ok.json()["fields"]["html"] == "<p>" + "x" * 8000 + "</p>"
    response = api(workspace, "marketer", "POST", f"templates/{template.pk}/preview/", {"key": "3"})
    assert response.status_code == 400
    assert response.json() == {"content": [
        "the template fails for customer 3: RenderLimit: a repeated text or list of 12,000 characters is longer "
        "than the limit of 10,000"]}


def test_a_preview_past_a_bound_shows_the_reason_in_the_editor(settings, workspace, travel, mallory, client_for):
    settings.PERSONALIZATION_MAX_CHARS = 10_000
    response = client_for(mallory).post(reverse("tpl-preview", kwargs={"workspace_slug": workspace.slug}), {
        "name": "Big", "channel": "email", "entity_key": "", "page_size": "A4", **DATA_BOUND, "preview-key": "3"})
    assert response.status_code == 422
    assert ("the template fails for customer 3: RenderLimit: a repeated text or list of 12,000 characters is "
            "longer than the limit of 10,000") in response.content.decode()
    unbounded = client_for(mallory).post(reverse("tpl-preview", kwargs={"workspace_slug": workspace.slug}), {
        "name": "Big", "channel": "email", "entity_key": "", "page_size": "A4", "subject": "Hi", "html": UNBOUNDED,
        "preview-key": "1"}, HTTP_HX_REQUEST="true")
    assert unbounded.status_code == 200
    assert "html, line 1: unbounded: a repeated text or list of 100,000,000 characters" in \
        unbounded.content.decode()
