"""Header injection: sender addresses and header fields are checked when content is saved
(templates, the email configuration, workspace settings, campaign definitions) and every
header value is refused at build time when it holds CR, LF or NUL (our MIME and the ESP
path alike)."""

import json

import pytest
from django.core.exceptions import ValidationError
from psycopg import sql

from apps.campaigns import services as campaign_services
from apps.campaigns.graph import GraphError
from apps.campaigns.models import ActivityRun
from apps.channels import configuration
from apps.channels.models import ChannelConfig, ContentTemplate, Delivery, Message
from apps.channels.providers import Outgoing, Permanent
from apps.channels.providers.email import EmailProvider
from apps.core.sqlutil import workspace_schema
from apps.tenants import services as tenant_services
from tests.channels.test_sending import CONTENT, live_run, parsed
from tests.factories import make_api_key

INJECTED = "news@travel.test\r\nBcc: evil@attacker.test"


@pytest.fixture
def api(client):
    def call(workspace, method, path, body):
        key = make_api_key(workspace, role="admin", name=f"k{id(body)}")[1]
        return client.generic(method, f"/api/v1/workspaces/{workspace.slug}/{path}", json.dumps(body),
                              content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}")
    return call


@pytest.mark.parametrize("field,value,message", [
    ("from_email", INJECTED, "from_email: must be one line: line breaks and NUL characters are not allowed in an "
                             "email header"),
    ("reply_to", "a@b.test\nBcc: evil@attacker.test", "reply_to: must be one line: line breaks and NUL characters "
                                                      "are not allowed in an email header"),
    ("from_email", "not an address", "from_email: 'not an address' is not one email address (like "
                                     "news@example.com)"),
    ("reply_to", "a@b.test, c@d.test", "reply_to: 'a@b.test, c@d.test' is not one email address (like "
                                       "news@example.com)"),
    ("subject", "Hi\r\nBcc: evil@attacker.test", "subject: must be one line: line breaks and NUL characters are "
                                                 "not allowed in an email header"),
])
def test_a_template_with_a_bad_sender_or_header_field_is_refused_over_the_api(workspace, travel, api, field, value,
                                                                             message):
    response = api(workspace, "POST", "templates/", {"name": "T", "channel": "email",
                                                     "content": {**CONTENT, field: value}})
    assert response.status_code == 400, response.content
    assert [p for p in response.json()["problems"] if p["field"] == field] == [
        {"field": field, "line": None, "message": message.split(": ", 1)[1]}]
    assert ContentTemplate.objects.filter(workspace=workspace).count() == 0


def test_a_nul_in_a_header_field_is_refused_at_the_edge_naming_the_field(workspace, travel, api):
    # NUL never reaches the content check: the API refuses it in any JSON string
    response = api(workspace, "POST", "templates/", {"name": "T", "channel": "email",
                                                     "content": {**CONTENT, "from_name": "News\x00"}})
    assert (response.status_code, response.json()) == (400, {
        "content.from_name": ["contains a NUL character (U+0000), which cannot be stored."]})
    assert not ContentTemplate.objects.filter(workspace=workspace).exists()


def _definition(content):
    return {"nodes": [
        {"id": "start", "type": "start"},
        {"id": "who", "type": "build_audience", "settings": {"definition": {
            "entity": "customer", "rule": {"attr": "customer_id", "op": "gte", "value": 0}}}},
        {"id": "mail", "type": "email", "settings": {"content": content}},
        {"id": "end", "type": "end"}],
        "edges": [{"from": "start", "to": "who"}, {"from": "who", "to": "mail"}, {"from": "mail", "to": "end"}]}


def test_a_campaign_whose_email_activity_has_an_injected_or_bad_sender_is_not_published(workspace, travel):
    campaign = campaign_services.campaign_create(workspace=workspace, actor=None, name="Spring")
    # a line break is refused by the definition's schema when the draft is saved
    with pytest.raises(GraphError) as caught:
        campaign_services.draft_save(workspace=workspace, actor=None, campaign=campaign,
                                     definition=_definition({**CONTENT, "reply_to": INJECTED}))
    assert caught.value.messages == [
        "mail: reply_to must be one line of text (line breaks and NUL characters are not allowed in an email "
        "header) or a trigger variable (at $.nodes[2].settings.content.reply_to)."]
    # two addresses in one field pass the schema and are refused by the activity's check
    campaign_services.draft_save(workspace=workspace, actor=None, campaign=campaign,
                                 definition=_definition({**CONTENT, "reply_to": "a@b.test, c@d.test"}))
    with pytest.raises(GraphError) as caught:
        campaign_services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    assert caught.value.messages == ["mail: reply_to: 'a@b.test, c@d.test' is not one email address (like "
                                     "news@example.com)"]
    campaign.refresh_from_db()
    assert campaign.status == "draft"


def test_the_email_configuration_and_workspace_refuse_a_multi_line_sender_name(workspace, api):
    response = api(workspace, "PUT", "channels/email/", {
        "backend": "smtp", "options": {"host": "mail.example.com", "port": 587},
        "from_name": "News\r\nBcc: evil@attacker.test"})
    assert response.status_code == 400, response.content
    assert "from_name" in response.json()
    assert ChannelConfig.objects.filter(workspace=workspace).count() == 0
    with pytest.raises(ValidationError) as caught:
        tenant_services.workspace_update(workspace=workspace, actor=None, sender_name="A\nBcc: evil@attacker.test")
    assert caught.value.message_dict == {
        "sender_name": ["must be one line: line breaks and NUL characters are not allowed"]}
    workspace.refresh_from_db()
    assert workspace.sender_name == ""


def test_a_recipient_whose_data_puts_a_line_break_in_the_subject_fails_alone(workspace, travel, email_config, sink,
                                                                             queue, sends):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("UPDATE {}.customer SET first_name = %s WHERE customer_id = 1").format(
            sql.Identifier(workspace_schema(workspace.pk))), ["Anna\r\nBcc: evil@attacker.test"])
    run = live_run(workspace)
    queue()
    sends()
    delivery = Delivery.objects.get(run=run)
    failed = Message.objects.get(delivery=delivery, address="anna@example.test")
    assert (failed.status, failed.reason) == ("failed", "rejected")
    assert failed.error == "header the 'Subject' header value contains a line break or NUL: refused"
    received = sink.received()
    assert sorted(r.rcpt_tos[0] for r in received) == ["ben@example.test", "chloe@example.test"]
    assert all(parsed(r)["Bcc"] is None for r in received)
    assert ActivityRun.objects.get(run=run, node_id="mail").status == "done"


@pytest.mark.parametrize("backend,options", [
    ("anymail", {"esp": "test"}),
    ("smtp", {"host": "127.0.0.1", "port": 1}),
])
def test_the_provider_refuses_injected_headers_before_connecting(workspace, backend, options):
    # given a delivery whose snapshot was written before content was validated
    config = ChannelConfig.objects.create(workspace=workspace, channel="email", backend=backend, options=options)
    delivery = Delivery(workspace=workspace, channel="email", content={"from_email": INJECTED})
    provider = EmailProvider(delivery, config)
    item = Outgoing(id=1, address="anna@example.test", message_id="<1.1.x@travel.test>",
                    fields={"subject": "Hi", "html": "<p>x</p>", "text": "x"}, context={})
    # when it is sent (port 1 is closed: the refusal comes before any connection)
    with pytest.raises(Permanent) as caught:
        provider.send(item)
    assert (caught.value.code, caught.value.text) == (
        "header", "the 'From' header value contains a line break or NUL: refused")
    item.headers = {"List-Unsubscribe": "<https://x.test/u/1>\nBcc: evil@attacker.test"}
    provider.from_email = "news@travel.test"
    with pytest.raises(Permanent) as caught:
        provider.send(item)
    assert caught.value.text == "the 'List-Unsubscribe' header value contains a line break or NUL: refused"
    assert provider.connection is None


def test_the_test_send_refuses_a_bad_address(workspace):
    with pytest.raises(ValidationError):
        configuration.channel_config_test_send(workspace=workspace, actor=None, address="a@b.test\nBcc: x@y.test")


@pytest.mark.parametrize("field", ["from_email", "reply_to", "from_name", "subject"])
def test_the_definition_schema_refuses_a_line_break_in_an_email_header_field(field):
    from apps.campaigns.definition_schema import schema_problems

    definition = {"nodes": [{"id": "start", "type": "start"},
                            {"id": "mail", "type": "email", "settings": {"content": {field: "a@b.test\nBcc: x@y.test"}}},
                            {"id": "ok", "type": "email", "settings": {"content": {field: {"$var": "sender"}}}},
                            {"id": "dm", "type": "direct_mail", "settings": {"content": {field: "x\ny"}}}]}
    assert schema_problems(definition) == [{
        "node": "mail", "message": f"{field} must be one line of text (line breaks and NUL characters are not "
                                   f"allowed in an email header) or a trigger variable (at "
                                   f"$.nodes[1].settings.content.{field})."}]
