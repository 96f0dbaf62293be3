"""What the activity registry serves stays what it was when campaigns still named the
channel activities itself: the definition's JSON Schema (assembled from campaigns' own
file and the fragments registered activities contribute), the catalog's order, and the
side panel each activity type gets."""

import json
from pathlib import Path

import pytest

from apps.campaigns.definition_schema import definition_schema, schema_problems
from apps.campaigns.forms import settings_form
from apps.campaigns.selectors import activity_catalog
from tests.campaigns.test_api import Api

SERVED = Path(__file__).with_name("definition_schema_served.json")  # the document served before issue #12


def _without_test_types(document):
    enum = document["$defs"]["node"]["properties"]["type"]["enum"]
    document["$defs"]["node"]["properties"]["type"]["enum"] = [t for t in enum if not t.startswith("test_")]
    return document


def test_the_served_definition_schema_is_unchanged_to_the_byte():
    served = json.dumps(_without_test_types(definition_schema()), indent=1, ensure_ascii=False) + "\n"
    assert served == SERVED.read_text(encoding="utf-8")


def test_the_served_definition_schema_is_what_the_api_serves(workspace):
    response = Api(workspace, "viewer").get("campaigns/definition-schema/")
    assert response.status_code == 200
    served = json.dumps(_without_test_types(response.json()), indent=1, ensure_ascii=False) + "\n"
    assert served == SERVED.read_text(encoding="utf-8")


def test_the_catalog_keeps_its_order():
    assert [a["type"] for a in activity_catalog() if not a["type"].startswith("test_")] == [
        "email", "sms", "push", "direct_mail", "start", "build_audience", "read_audience", "combine", "split",
        "deduplicate", "change_dimension", "fork", "and_join", "end", "enrichment", "wait", "save_audience"]
    assert [a["type"] for a in activity_catalog() if a["channel"]] == ["email", "sms", "push", "direct_mail"]


def test_an_email_header_error_keeps_its_words():
    definition = {"nodes": [{"id": "start", "type": "start"},
                            {"id": "mail", "type": "email", "settings": {"content": {"subject": "a\nb"}}}]}
    assert schema_problems(definition) == [{
        "node": "mail", "message": "subject must be one line of text (line breaks and NUL characters are not "
                                   "allowed in an email header) or a trigger variable (at "
                                   "$.nodes[1].settings.content.subject)."}]


@pytest.mark.parametrize("activity_type,form_class", [
    ("email", "ChannelActivityForm"), ("direct_mail", "DirectMailActivityForm"), ("sms", "SmsActivityForm"),
    ("push", "PushActivityForm"), ("split", "SplitPanel"), ("build_audience", "BuildAudiencePanel"),
    ("start", "SettingsForm"), ("end", "SettingsForm"), ("wait", "WaitPanel"), ("deduplicate", "DeduplicatePanel"),
    ("save_audience", "SaveAudiencePanel"), ("enrichment", "EnrichmentPanel"), ("combine", "CombineForm"),
])
def test_each_activity_type_gets_its_side_panel(activity_type, form_class):
    form = settings_form({"id": "x", "type": activity_type, "settings": {}})
    assert type(form).__name__ == form_class
    assert form.prefix == "cfg"
