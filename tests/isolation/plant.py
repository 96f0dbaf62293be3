"""Marked objects planted in the twin workspace, so that a page of the victim workspace
that forgets its workspace filter shows something it must not.

Every model with a foreign key to Workspace needs a planter here (test_every_tenant_model_
has_a_planter enumerates them through the app registry). A planter creates one object
of its model in the given workspace, carrying a marker string that appears nowhere else,
and returns the markers. The relational data tables of the workspace (its schema) get
marked rows too."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable

from django.apps import apps
from django.db import connection
from django.utils import timezone
from psycopg import sql

from apps.tenants.models import Workspace

MARK = "TWINMARK"

Planter = Callable[[Workspace, dict], list[str]]


def tenant_models() -> set[str]:
    """Labels of every model with a foreign key to Workspace."""
    found = set()
    for model in apps.get_models():
        for f in model._meta.concrete_fields:
            if f.many_to_one and f.related_model is Workspace:
                found.add(model._meta.label)
    return found


def _m(name: str) -> str:
    return f"{MARK}{name}"


# Model documents are imported through the real service, so tables and metadata agree.
def _datamodel(ws, made):
    from apps.datamodel.ingestion import Options, ingest_csv
    from apps.datamodel.modeldoc import model_import
    from apps.datamodel.models import Entity

    doc = {"version": 1, "entities": [
        {"key": "twinmarkstore", "label": _m("EntityLabel"), "description": _m("EntityDescription"),
         "primary_key": {"key": "store_id", "type": "text", "label": _m("AttributeLabelPk")},
         "attributes": [{"key": "twinmarkcity", "type": "text", "label": _m("AttributeLabel")},
                        {"key": "owner_id", "type": "text", "label": "Owner"}]},
        {"key": "twinmarkowner", "label": _m("OwnerLabel"),
         "primary_key": {"key": "owner_id", "type": "text", "label": "Owner ID"}, "attributes": []},
    ], "relationships": [
        {"key": "twinmarkowner", "source": "twinmarkstore", "target": "twinmarkowner", "attribute": "owner_id",
         "reverse_key": "twinmarkstores", "label": _m("RelationshipLabel"), "reverse_label": _m("ReverseLabel")},
    ]}
    model_import(workspace=ws, actor=None, doc=doc)
    entities = {e.key: e for e in Entity.objects.filter(workspace=ws, key__startswith="twinmark")}
    for key, body in (("twinmarkowner", f"owner_id\n{_m('OwnerRow')}\n"),
                      ("twinmarkstore", f"store_id,twinmarkcity,owner_id\n{_m('RowPk')},{_m('RowCity')},"
                                        f"{_m('OwnerRow')}\n")):
        report = ingest_csv(entity=entities[key], stream=io.BytesIO(body.encode()), options=Options())
        assert report.status == "done", report.as_dict()
    made["entity"] = entities["twinmarkstore"]
    return [_m("EntityLabel"), _m("EntityDescription"), _m("RowPk"), _m("RowCity"), _m("OwnerRow")]


def _entity(ws, made):
    return [] if "entity" in made else _datamodel(ws, made)


def _attribute(ws, made):
    return [_m("AttributeLabel"), _m("AttributeLabelPk")]


def _relationship(ws, made):
    return [_m("RelationshipLabel"), _m("ReverseLabel")]


def _address_mapping(ws, made):
    from apps.datamodel.models import AddressMapping, Attribute

    attribute = Attribute.objects.get(workspace=ws, entity=made["entity"], key="twinmarkcity")
    # One mapping per role: the last free role, so the twin's own model keeps its mappings.
    used = set(AddressMapping.objects.filter(workspace=ws).values_list("role", flat=True))
    role = "address_line2" if "address_line2" not in used else "country"
    AddressMapping.objects.update_or_create(workspace=ws, role=role, defaults={"attribute": attribute})
    return [_m("AttributeLabel")]  # shown as its attribute


def _ingestion_job(ws, made):
    from apps.datamodel.models import IngestionJob

    IngestionJob.objects.create(workspace=ws, entity=made["entity"], original_name=f"{_m('Upload')}.csv",
                                message=_m("JobMessage"))
    return [_m("Upload"), _m("JobMessage")]


def _api_key(ws, made):
    from tests.factories import make_api_key

    make_api_key(ws, role="viewer", name=_m("ApiKey"))
    return [_m("ApiKey")]


def _invitation(ws, made):
    from apps.tenants import services

    services.invitation_create(workspace=ws, actor=None, email=f"{_m('Invitee').lower()}@twin.test", role="viewer")
    return [_m("Invitee").lower()]


def _audit_event(ws, made):
    from apps.tenants import services

    services.audit_record(workspace=ws, actor=None, verb=f"twin.{_m('Verb').lower()}", ip_address="192.0.2.77",
                          data={"note": _m("AuditData")})
    return [_m("Verb").lower(), _m("AuditData")]


def _audience(ws, made):
    from apps.audiences.models import Audience

    Audience.objects.create(workspace=ws, name=_m("Audience"), description=_m("AudienceDescription"),
                            entity=made["entity"])
    return [_m("Audience"), _m("AudienceDescription")]


def _campaign(ws, made):
    from apps.campaigns.models import Campaign

    made["campaign"] = Campaign.objects.create(workspace=ws, name=_m("Campaign"), description=_m("CampaignText"))
    return [_m("Campaign"), _m("CampaignText")]


def _campaign_version(ws, made):
    from apps.campaigns.models import CampaignVersion

    made["version"] = CampaignVersion.objects.create(
        workspace=ws, campaign=made["campaign"], number=1,
        definition={"nodes": [{"id": "start", "type": "scheduler", "label": _m("NodeLabel"), "settings": {}}],
                    "edges": []})
    return [_m("NodeLabel")]


def _run(ws, made):
    from apps.campaigns.models import Run

    made["run"] = Run.objects.create(workspace=ws, campaign=made["campaign"], version=made["version"],
                                     status="failed", error=_m("RunError"), variables={"v": _m("RunVariable")})
    return [_m("RunError"), _m("RunVariable")]


def _activity_run(ws, made):
    from apps.campaigns.models import ActivityRun

    ActivityRun.objects.create(workspace=ws, run=made["run"], node_id="start", type="scheduler", status="failed",
                               error=_m("ActivityError"), log=[_m("ActivityLog")])
    return [_m("ActivityError"), _m("ActivityLog")]


def _campaign_schedule(ws, made):
    from apps.campaigns.models import CampaignSchedule

    CampaignSchedule.objects.create(workspace=ws, campaign=made["campaign"],
                                    spec={"kind": "once", "note": _m("ScheduleSpec")})
    return [_m("ScheduleSpec")]


def _approval_request(ws, made):
    from apps.campaigns.models import ApprovalRequest

    made["approval"] = ApprovalRequest.objects.create(workspace=ws, campaign=made["campaign"],
                                                      version=made["version"], reason=_m("ApprovalReason"))
    return [_m("ApprovalReason")]


def _approval_event(ws, made):
    from apps.campaigns.models import ApprovalEvent

    ApprovalEvent.objects.create(workspace=ws, request=made["approval"], kind="comment", body=_m("ApprovalComment"))
    return [_m("ApprovalComment")]


def _channel_config(ws, made):
    from apps.channels.models import ChannelConfig

    ChannelConfig.objects.update_or_create(workspace=ws, channel="email", defaults={
        "from_name": _m("FromName"), "from_email": f"{_m('FromEmail').lower()}@twin.test"})
    ChannelConfig.objects.update_or_create(workspace=ws, channel="sms", defaults={
        "backend": "twilio", "options": {"account": _m("SmsAccount"), "sender": _m("SmsSender")}})
    return [_m("FromName"), _m("FromEmail").lower(), _m("SmsAccount"), _m("SmsSender")]


def _content_template(ws, made):
    from apps.channels.models import ContentTemplate

    ContentTemplate.objects.create(workspace=ws, name=_m("Template"), channel="email",
                                   content={"subject": _m("TemplateSubject"), "html": "<p>x</p>", "text": "x"})
    return [_m("Template"), _m("TemplateSubject")]


def _delivery(ws, made):
    from apps.channels.models import Delivery

    made["delivery"] = Delivery.objects.create(
        workspace=ws, channel="email", name=_m("Delivery"), status="done",
        content={"subject": _m("DeliverySubject")}, expires_at=timezone.now() + dt.timedelta(days=1))
    return [_m("Delivery"), _m("DeliverySubject")]


def _message(ws, made):
    from apps.channels.models import Message

    made["message"] = Message.objects.create(
        workspace=ws, delivery=made["delivery"], profile_key=_m("MessageProfile"), target_key=_m("MessageProfile"),
        address=f"{_m('MessageAddress').lower()}@twin.test", status="sent", provider_id=_m("ProviderId"))
    return [_m("MessageProfile"), _m("MessageAddress").lower(), _m("ProviderId")]


def _message_event(ws, made):
    from apps.channels.models import MessageEvent

    MessageEvent.objects.create(workspace=ws, message=made["message"], type="open", data={"ua": _m("EventData")})
    return [_m("EventData")]


def _sms_receipt(ws, made):
    from apps.channels.models import SmsReceipt

    SmsReceipt.objects.create(workspace=ws, message=made["message"], provider="twilio",
                              provider_message_id=_m("SmsReceiptSid"), recipient=_m("SmsRcpt")[:40],
                              status="delivered", settled_at=timezone.now(), outcome="delivered")
    return [_m("SmsReceiptSid"), _m("SmsRcpt")[:40]]


def _topic(ws, made):
    from apps.consent.models import Topic

    made["topic"] = Topic.objects.create(workspace=ws, key=_m("topic").lower(), name=_m("Topic"), channel="email",
                                         description=_m("TopicText"))
    return [_m("topic").lower(), _m("Topic"), _m("TopicText")]


def _consent_event(ws, made):
    from apps.consent import services

    services.consent_record(workspace=ws, profile_key=_m("ConsentProfile"), topic=made["topic"], granted=True,
                            source="api", reference=_m("ConsentReference"), proof=_m("ConsentProof"), audit=False)
    return [_m("ConsentProfile"), _m("ConsentReference"), _m("ConsentProof")]


def _consent_state(ws, made):
    return [_m("ConsentProfile")]  # made by consent_record with its event


def _suppression(ws, made):
    from apps.consent.models import Suppression

    Suppression.objects.create(workspace=ws, kind="email", value=f"{_m('Suppressed').lower()}@twin.test",
                               reason="manual", note=_m("SuppressionNote"))
    return [_m("Suppressed").lower(), _m("SuppressionNote")]


def _soft_bounce(ws, made):
    from apps.consent.models import SoftBounce

    SoftBounce.objects.create(workspace=ws, address=f"{_m('Bounced').lower()}@twin.test", count=1)
    return [_m("Bounced").lower()]


def _rule_set(ws, made):
    from apps.consent.models import RuleSet

    made["rule_set"] = RuleSet.objects.create(workspace=ws, name=_m("RuleSet"))
    return [_m("RuleSet")]


def _frequency_cap(ws, made):
    from apps.consent.models import FrequencyCap

    # Only numbers: a limit no page shows otherwise.
    FrequencyCap.objects.create(workspace=ws, rule_set=made["rule_set"], channel="", limit=987654321, period="day")
    return ["987654321"]


def _quiet_hours(ws, made):
    from apps.consent.models import QuietHours

    # Only times, which pages show everywhere: planted so counts and lists differ, no marker.
    QuietHours.objects.update_or_create(workspace=ws, channel="push", defaults={
        "allowed_from": dt.time(3, 17), "allowed_until": dt.time(4, 41)})
    return []


def _workspace_policy(ws, made):
    from apps.consent.models import WorkspacePolicy

    # Only small numbers and flags: planted, no marker (a wrong policy shows in behaviour).
    WorkspacePolicy.objects.update_or_create(workspace=ws, defaults={"unsubscribe_link_days": 3217})
    return []


def _sender_domain(ws, made):
    from apps.channels.models import SenderDomain

    SenderDomain.objects.create(workspace=ws, domain=f"{_m('SenderDomain').lower()}.test",
                                confirm_address=f"postmaster@{_m('SenderDomain').lower()}.test")
    return [_m("SenderDomain").lower()]


def _push_subscription(ws, made):
    from apps.channels.models import PushSubscription

    PushSubscription.objects.create(workspace=ws, profile_key=_m("PushProfile"), platform="android",
                                    token=_m("PushToken"), app_id=_m("PushApp"), last_seen_at=timezone.now())
    return [_m("PushProfile"), _m("PushToken"), _m("PushApp")]


def _short_link(ws, made):
    from apps.channels.models import ShortLink

    url = f"https://{_m('ShortLink').lower()}.test/offer"
    ShortLink.objects.create(workspace=ws, delivery=made["delivery"], digest=_m("ShortLinkDigest")[:64], url=url)
    return [_m("ShortLink").lower()]


def _media_image(ws, made):
    from apps.channels.models import MediaImage

    MediaImage.objects.create(workspace=ws, token=_m("MediaToken").lower()[:40], path="email-media/x.png",
                              content_type="image/png", width=1, height=1, size=1, original_name=_m("MediaImage"))
    return [_m("MediaImage")]


def _rollups(ws, made):
    """The report rollups of the planted delivery (the message and event above made some;
    these carry markers)."""
    from apps.reports.models import DeliveryRollup, DomainRollup, LinkRollup, RollupDelta

    delivery = made["delivery"]
    DeliveryRollup.objects.create(workspace=ws, delivery=delivery, hour=timezone.now().replace(minute=0, second=0,
                                  microsecond=0), metric=_m("RollupMetric"), n=7)
    LinkRollup.objects.create(workspace=ws, delivery=delivery, url=f"https://{_m('RollupLink').lower()}.test/",
                              total=3, uniq=2)
    DomainRollup.objects.create(workspace=ws, delivery=delivery, domain=f"{_m('RollupDomain').lower()}.test",
                                metric="sent", n=5)
    RollupDelta.objects.create(workspace=ws, delivery=delivery, kind="hour", hour=timezone.now(),
                               key=_m("RollupDelta"), n=1)
    return [_m("RollupMetric"), _m("RollupLink").lower(), _m("RollupDomain").lower(), _m("RollupDelta")]


def _report_subscription(ws, made):
    from apps.reports.models import ReportSubscription

    ReportSubscription.objects.create(workspace=ws, campaign=made["campaign"],
                                      recipients=[f"{_m('Subscriber').lower()}@example.test"])
    return [_m("Subscriber").lower()]


# In dependency order: later planters use what earlier ones made.
PLANTERS: dict[str, Planter] = {
    "tenants.ApiKey": _api_key,
    "tenants.Invitation": _invitation,
    "tenants.AuditEvent": _audit_event,
    "datamodel.Entity": _entity,
    "datamodel.Attribute": _attribute,
    "datamodel.Relationship": _relationship,
    "datamodel.AddressMapping": _address_mapping,
    "datamodel.IngestionJob": _ingestion_job,
    "audiences.Audience": _audience,
    "campaigns.Campaign": _campaign,
    "campaigns.CampaignVersion": _campaign_version,
    "campaigns.Run": _run,
    "campaigns.ActivityRun": _activity_run,
    "campaigns.CampaignSchedule": _campaign_schedule,
    "campaigns.ApprovalRequest": _approval_request,
    "campaigns.ApprovalEvent": _approval_event,
    "channels.ChannelConfig": _channel_config,
    "channels.ContentTemplate": _content_template,
    "channels.Delivery": _delivery,
    "channels.Message": _message,
    "channels.MessageEvent": _message_event,
    "channels.SmsReceipt": _sms_receipt,
    "channels.SenderDomain": _sender_domain,
    "channels.PushSubscription": _push_subscription,
    "channels.ShortLink": _short_link,
    "channels.MediaImage": _media_image,
    "consent.Topic": _topic,
    "consent.ConsentEvent": _consent_event,
    "consent.ConsentState": _consent_state,
    "consent.Suppression": _suppression,
    "consent.SoftBounce": _soft_bounce,
    "consent.RuleSet": _rule_set,
    "consent.FrequencyCap": _frequency_cap,
    "consent.QuietHours": _quiet_hours,
    "consent.WorkspacePolicy": _workspace_policy,
    "reports.DeliveryRollup": _rollups,
    "reports.LinkRollup": lambda ws, made: [],  # planted with the delivery's rollups
    "reports.DomainRollup": lambda ws, made: [],
    "reports.RollupDelta": lambda ws, made: [],
    "reports.ReportSubscription": _report_subscription,
}


def _mark_relational_rows(ws) -> list[str]:
    """Overwrite the text columns of one row of every other table of the workspace (the
    rows probes loaded, which the victim has too under the same keys) with markers."""
    from apps.datamodel import ddl
    from apps.datamodel.models import Entity

    markers = []
    for entity in Entity.objects.filter(workspace=ws).exclude(key__startswith="twinmark").order_by("pk"):
        attributes = [a for a in entity.attributes.all() if a.type in ("text", "email") and not a.is_primary_key
                      and not hasattr(a, "relationship")]
        if not attributes:
            continue
        pk = entity.attributes.get(is_primary_key=True)
        values = []
        for a in attributes:
            marker = _m(f"Row{entity.key}{a.key}".replace("_", ""))
            values.append(f"{marker.lower()}@twin.test" if a.type == "email" else marker)
            markers.append(marker.lower() if a.type == "email" else marker)
        query = sql.SQL("UPDATE {t} SET ({cols}) = ROW({vals}) WHERE {pk} = (SELECT min({pk}) FROM {t})").format(
            t=ddl.table(entity), cols=sql.SQL(", ").join(ddl.column(a) for a in attributes),
            vals=sql.SQL(", ").join(sql.Placeholder() * len(values)), pk=ddl.column(pk))
        with connection.cursor() as cursor:
            cursor.execute(query.as_string(cursor.connection), values)
    return markers


def plant(ws: Workspace) -> list[str]:
    """One marked object of every tenant model in `ws`, plus marked rows in its tables;
    the markers, for assertions."""
    made: dict = {}
    markers: list[str] = []
    for planter in PLANTERS.values():
        markers += planter(ws, made)
    markers += _mark_relational_rows(ws)
    return markers
