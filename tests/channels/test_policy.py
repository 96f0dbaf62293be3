"""The send policy: one declared interface (apps/channels/policy.py) that the consent layer
implements and registers, and that sending cannot run without: a system check fails
start-up without it, and classifying or sending raises instead of sending unchecked."""

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from psycopg import sql

from apps.channels import ledger, policy, sending, services
from apps.channels.models import Delivery, Message
from apps.consent.enforcement import ConsentPolicy
from apps.core.sqlutil import execute, workspace_schema
from apps.datamodel.schema import Schema

CONTENT = {"from_email": "news@travel.test", "subject": "News", "html": "<p>News</p>"}


def create_delivery(workspace, settings=None):
    schema_name = workspace_schema(workspace.pk)
    execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} AS SELECT customer_id AS key FROM {}").format(
        sql.Identifier(schema_name, "everyone"), sql.Identifier(schema_name, "customer")))
    schema = Schema.load(workspace)
    audience = ledger.audience_for(workspace, schema, "email", schema.entities["customer"], settings or {})
    scratch = sql.Identifier(schema_name, "classified")
    ledger.classify_into(audience, sql.Identifier(schema_name, "everyone"), scratch, execute)
    return services.delivery_create(
        workspace=workspace, channel="email", name="news", content=CONTENT,
        options=services.delivery_options(audience, settings or {}, "everyone", [], {}),
        classified=sql.SQL("SELECT target_key, profile_key, address, reason, defer_until FROM {}").format(scratch))


def errors():
    return [(m.id, m.level) for m in checks.run_checks() if m.id and m.id.startswith("channels.")]


def test_the_consent_app_registers_its_policy_at_start_and_the_check_passes():
    assert isinstance(policy.current(), ConsentPolicy)
    assert errors() == []


def test_without_a_send_policy_the_system_check_reports_an_error():
    with policy.swapped(None):
        assert errors() == [("channels.E001", checks.ERROR)]
        with pytest.raises(SystemCheckError, match="channels.E001"):
            call_command("check")


def test_without_a_send_policy_sending_raises_and_nothing_is_sent(workspace, travel, email_config, sink, sends):
    # given: a delivery of three queued messages, created while the policy was there
    delivery = create_delivery(workspace)
    sends.pending.clear()
    assert sorted(Message.objects.filter(delivery=delivery).values_list("status", flat=True)) == ["queued"] * 3
    # when: it is sent with no policy registered
    with policy.swapped(None), pytest.raises(policy.NoSendPolicy, match="no send policy is registered"):
        sending.send_some(delivery.pk)
    # then: nothing left, nothing was even claimed
    assert sink.received() == []
    assert sorted(Message.objects.filter(delivery=delivery).values_list("status", flat=True)) == ["queued"] * 3
    assert Message.objects.filter(delivery=delivery, attempts__gt=0).count() == 0
    # and with the policy back, the same delivery goes out
    sending.send_some(delivery.pk)
    assert sorted(m.rcpt_tos[0] for m in sink.received()) == [
        "anna@example.test", "ben@example.test", "chloe@example.test"]


def test_without_a_send_policy_no_delivery_is_classified(workspace, travel, email_config, sends):
    with policy.swapped(None), pytest.raises(policy.NoSendPolicy):
        create_delivery(workspace)
    assert Delivery.objects.filter(workspace=workspace).count() == 0


def test_provider_reports_reach_the_policy_and_are_refused_without_one(workspace, travel, email_config, sends):
    from apps.channels import events
    from apps.channels.models import MessageEvent
    from apps.consent.models import Suppression

    delivery = create_delivery(workspace)
    message = Message.objects.get(delivery=delivery, profile_key="1")
    # without a policy: the bounce is refused (the provider reports it again), nothing kept
    with policy.swapped(None), pytest.raises(policy.NoSendPolicy):
        events.event_record(message=message, type="bounced", data={})
    assert (MessageEvent.objects.count(), Suppression.objects.count()) == (0, 0)
    # with it: kept, and the address suppressed
    events.event_record(message=message, type="bounced", data={})
    assert MessageEvent.objects.filter(message=message, type="bounced").count() == 1
    assert list(Suppression.objects.filter(workspace=workspace).values_list("kind", "value", "reason")) == [
        ("email", "anna@example.test", "hard_bounce")]


def test_a_policy_must_implement_the_whole_interface():
    class Partial(policy.SendPolicy):
        def exclusions(self, audience):
            return []

    with pytest.raises(TypeError, match="abstract"):
        Partial()
    with pytest.raises(TypeError, match="is not a SendPolicy"):
        policy.register(object())
    assert isinstance(policy.current(), ConsentPolicy)


def test_a_second_different_policy_is_refused():
    class Other(ConsentPolicy):
        pass

    with pytest.raises(ImproperlyConfigured, match="already registered"):
        policy.register(Other())
    policy.register(ConsentPolicy())  # the same kind again (a second ready()) is harmless
    assert type(policy.current()) is ConsentPolicy


def test_channels_never_imports_the_consent_layer_above_it():
    import ast
    from pathlib import Path

    from django.conf import settings

    offenders = []
    for path in sorted((Path(settings.BASE_DIR) / "apps" / "channels").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}:{node.lineno}" for n in names if n.split(".")[:2] == ["apps", "consent"]]
    assert offenders == []
