"""The invariant of the consent issue, checked by a hypothesis state machine that
interleaves consent changes, suppressions, bounces, new deliveries and sends:

- safety: no message is ever sent to a recipient who, at the moment of sending, lacked
  consent, was suppressed, or was over a frequency cap;
- liveness: a message that is due and whose recipient, at the moment of sending, has
  consent, is not suppressed and is under the cap (no quiet hours are set: every
  moment is allowed) is sent when the send runs, not held back nor excluded."""

import collections

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from psycopg import sql

from apps.channels import ledger, sending, services
from apps.channels.models import ChannelConfig, Delivery, Message
from apps.consent import services as consent
from apps.consent.models import (
    ConsentEvent,
    ConsentState,
    FrequencyCap,
    RuleSet,
    SoftBounce,
    Suppression,
    Topic,
)
from apps.core.sqlutil import execute, workspace_schema
from apps.datamodel.schema import Schema

PROFILES = {1: "anna@example.test", 2: "ben@example.test", 3: "chloe@example.test"}
CAP = 2


def test_no_message_reaches_anyone_without_consent_suppressed_or_over_the_cap(workspace, travel, sink, monkeypatch):
    monkeypatch.setattr(sending, "DISPATCH", lambda _pk: None)
    schema_name = workspace_schema(workspace.pk)
    execute(sql.SQL("CREATE TABLE {} AS SELECT customer_id AS key FROM {}").format(
        sql.Identifier(schema_name, "everyone"), sql.Identifier(schema_name, "customer")))
    ChannelConfig.objects.create(workspace=workspace, channel="email", options={"host": "127.0.0.1", "port": sink.port},
                                 from_email="news@travel.test", chunk_size=1)
    topic = Topic.objects.create(workspace=workspace, key="news", name="News", channel="email", policy="opt_in")
    rules = RuleSet.objects.create(workspace=workspace, name="caps")
    FrequencyCap.objects.create(workspace=workspace, rule_set=rules, channel="email", limit=CAP, period="day")
    schema = Schema.load(workspace)
    settings_ = {"topic": "news", "rule_set_id": rules.pk}
    audience = ledger.audience_for(workspace, schema, "email", schema.entities["customer"], settings_)
    liveness_checked = collections.Counter()

    class Sends(RuleBasedStateMachine):
        @initialize(granted=st.sets(st.sampled_from(sorted(PROFILES)), min_size=1))
        def reset(self, granted):
            Message.objects.filter(workspace=workspace).delete()
            Delivery.objects.filter(workspace=workspace).delete()
            ConsentState.objects.filter(workspace=workspace).delete()
            ConsentEvent.objects.filter(workspace=workspace).delete()
            Suppression.objects.filter(workspace=workspace).delete()
            SoftBounce.objects.filter(workspace=workspace).delete()
            sink.messages.clear()
            self.consent = dict.fromkeys(PROFILES, False)
            # Some start with consent, so that deliveries often have messages to send.
            for key in sorted(granted):
                self.change_consent(key, True)
            self.suppressed = dict.fromkeys(PROFILES, False)
            self.sent = collections.Counter()
            self.deliveries = []
            # Every run opens with a delivery and a send: the first queued message's
            # recipient has consent, so liveness is checked in every run, whatever the
            # random steps after it do.
            self.new_delivery()
            self.send_one(0)

        @rule(key=st.sampled_from(sorted(PROFILES)), granted=st.booleans())
        def change_consent(self, key, granted):
            consent.consent_record(workspace=workspace, profile_key=key, topic=topic, granted=granted, source="api",
                                   audit=False)
            self.consent[key] = granted

        @rule(key=st.sampled_from(sorted(PROFILES)))
        def suppress(self, key):
            consent.suppression_add(workspace=workspace, kind="email", value=PROFILES[key], reason="manual")
            self.suppressed[key] = True

        @rule(key=st.sampled_from(sorted(PROFILES)))
        def lift_suppression(self, key):
            for entry in Suppression.objects.filter(workspace=workspace, value=PROFILES[key]):
                consent.suppression_remove(workspace=workspace, suppression=entry)
            self.suppressed[key] = False

        @rule(key=st.sampled_from(sorted(PROFILES)))
        def hard_bounce(self, key):
            consent.bounce_record(workspace=workspace, address=PROFILES[key], hard=True)
            self.suppressed[key] = True

        @rule()
        def new_delivery(self):
            scratch = sql.Identifier(schema_name, "classified")
            ledger.classify_into(audience, sql.Identifier(schema_name, "everyone"), scratch, execute)
            delivery = services.delivery_create(
                workspace=workspace, channel="email", name="news", options=services.delivery_options(
                    audience, settings_, "everyone", [], {}),
                content={"from_email": "news@travel.test", "subject": "News", "html": "<p>News</p>"},
                classified=sql.SQL("SELECT target_key, profile_key, address, reason, defer_until FROM {}").format(
                    scratch))
            self.deliveries.append(delivery.pk)

        @precondition(lambda self: self.deliveries)
        @rule(index=st.integers(min_value=0, max_value=20))
        def send_one(self, index):
            delivery_pk = self.deliveries[index % len(self.deliveries)]
            # The message this send claims (chunks of one, claimed in id order; nothing is
            # retried nor deferred here, so every queued message is due), and whether its
            # recipient may get it now, before this send counts anything.
            due = Message.objects.filter(delivery_id=delivery_pk, status="queued").order_by("id").first()
            eligible = due is not None and self.eligible(int(due.profile_key))
            before = len(sink.received())
            sending.send_some(delivery_pk, chunks=1)
            by_address = {v: k for k, v in PROFILES.items()}
            for received in sink.received()[before:]:
                key = by_address[received.rcpt_tos[0]]
                # the state at the moment of sending: nothing changed during this step
                assert self.consent[key], f"{key} got a message without consent"
                assert not self.suppressed[key], f"{key} got a message while suppressed"
                assert self.sent[key] < CAP, f"{key} got a message over the cap of {CAP} a day"
                self.sent[key] += 1
            if eligible:
                # liveness: an eligible, due message leaves when the send runs
                due.refresh_from_db()
                assert (due.status, due.reason) == ("sent", ""), \
                    f"{due.profile_key} was eligible but the message became {due.status} ({due.reason})"
                assert [r.rcpt_tos for r in sink.received()[before:]] == [[due.address]], list(
                    Message.objects.filter(workspace=workspace).values_list("delivery_id", "profile_key", "status"))
                liveness_checked["sent"] += 1

        def eligible(self, key):
            return self.consent[key] and not self.suppressed[key] and self.sent[key] < CAP

        @invariant()
        def ledger_agrees_with_the_server(self):
            if hasattr(self, "sent"):
                assert Message.objects.filter(workspace=workspace, status="sent").count() == len(sink.received())

    Sends.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    Sends.TestCase().runTest()
    assert liveness_checked["sent"] > 0  # the runs did reach eligible messages
