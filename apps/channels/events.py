"""What happens to a message after it left: opens and clicks from our tracking links, and
delivery reports from email services through django-anymail's `tracking` signal.

Every recorded event goes through `event_record`, which hands it to the send policy
(apps/channels/policy.py: the consent layer suppresses addresses that bounced hard or
complained) and then to each of EVENT_HOOKS, (event, message) listeners."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver

from . import machine, policy
from .models import EventType, Message, MessageEvent, MessageStatus

logger = logging.getLogger(__name__)

EventHook = Callable[[MessageEvent, Message], None]
EVENT_HOOKS: list[EventHook] = []

# anymail's normalized event types -> ours; the others (queued, sent, failed, subscribed,
# autoresponded, unknown...) say nothing the ledger keeps.
ANYMAIL_TYPES = {
    "delivered": EventType.DELIVERED,
    "bounced": EventType.BOUNCED,
    "deferred": EventType.SOFT_BOUNCED,
    "complained": EventType.COMPLAINED,
    "rejected": EventType.REJECTED,
    "opened": EventType.OPEN,
    "clicked": EventType.CLICK,
    "unsubscribed": EventType.UNSUBSCRIBED,
}
# Events that mean the message did not arrive: it is failed, with the reason kept.
UNDELIVERED = (EventType.BOUNCED, EventType.REJECTED)
TEXT_LIMIT = 1000  # characters kept of free text from outside (user agents, descriptions)


def event_record(*, message: Message, type: str, data: dict[str, Any]) -> MessageEvent:
    """Keep one event on a message, then let the send policy and every EVENT_HOOKS hook
    see it. Without a send policy nothing is kept (NoSendPolicy): a bounce must not be
    recorded without suppressing, the provider sends its report again."""
    send_policy = policy.current()
    event = MessageEvent.objects.create(workspace_id=message.workspace_id, message=message, type=type, data=data)
    send_policy.on_event(event, message)
    for hook in EVENT_HOOKS:
        hook(event, message)
    return event


def tracked_open(*, message_pk: int, user_agent: str, ip: str | None) -> MessageEvent | None:
    """An open pixel was fetched: kept on the message if it was sent."""
    message = Message.objects.filter(pk=message_pk, status=MessageStatus.SENT).first()
    if message is None:
        return None
    return event_record(message=message, type=EventType.OPEN, data=_with_machine(
        {"user_agent": user_agent[:TEXT_LIMIT], "ip": ip or ""}, message))


def tracked_click(*, message_pk: int, url: str, user_agent: str, ip: str | None) -> MessageEvent | None:
    """A tracked link was followed: kept on the message if it was sent."""
    message = Message.objects.filter(pk=message_pk, status=MessageStatus.SENT).first()
    if message is None:
        return None
    return event_record(message=message, type=EventType.CLICK, data=_with_machine(
        {"url": url[:2000], "user_agent": user_agent[:TEXT_LIMIT], "ip": ip or ""}, message))


def _with_machine(data: dict[str, Any], message: Message) -> dict[str, Any]:
    """The data of an open or click, flagged `machine` when no person made it."""
    kind = machine.machine_kind(user_agent=data["user_agent"], ip=data["ip"] or None, sent_at=message.sent_at)
    return {**data, "machine": kind} if kind else data


def short_link_followed(*, link, message_pk: int, user_agent: str, ip: str | None) -> list[MessageEvent]:
    """A short link (/s/<token>) was followed: a click on the message if it was sent in the
    link's delivery; a push notification's tap is also its open."""
    message = Message.objects.filter(pk=message_pk, delivery_id=link.delivery_id, status=MessageStatus.SENT).first()
    if message is None:
        return []
    # Messaging apps fetch a link to preview it (WhatsApp, iMessage...): flagged machine.
    data = _with_machine({"user_agent": user_agent[:TEXT_LIMIT], "ip": ip or ""}, message)
    recorded = []
    if link.delivery.channel == "push":
        recorded.append(event_record(message=message, type=EventType.OPEN, data=data))
    recorded.append(event_record(message=message, type=EventType.CLICK, data={"url": link.url[:2000], **data}))
    return recorded


def _text(value: Any) -> str:
    return str(value)[:TEXT_LIMIT] if value not in (None, "") else ""


def message_for_esp_event(event) -> Message | None:
    """The message an ESP event is about: by the id we sent as metadata (checked against
    the delivery id and the recipient it also names), else by the provider's message id."""
    metadata = getattr(event, "metadata", None) or {}
    recipient = (getattr(event, "recipient", None) or "").strip().lower()
    message = None
    raw = metadata.get("message_id")
    if raw not in (None, ""):
        try:
            message = Message.objects.filter(pk=int(str(raw))).first()
        except ValueError:
            message = None
        delivery_id = metadata.get("delivery_id")
        if message is not None and delivery_id not in (None, "") and str(message.delivery_id) != str(delivery_id):
            message = None
    elif getattr(event, "message_id", None):
        # Without metadata: the id the provider gave when it accepted the message. (Not
        # indexed: ESPs that echo metadata back, which anymail's supported ones do, never
        # come here.)
        message = Message.objects.filter(provider_id=str(event.message_id)[:200]).exclude(provider_id="").first()
    # A webhook naming a message id and someone else's address is not about that message.
    if message is not None and recipient and message.address.strip().lower() != recipient:
        return None
    return message


def esp_event_record(event, esp_name: str) -> MessageEvent | None:
    """One anymail tracking event: recorded on its message (None: not ours, or a type
    the ledger does not keep, or a repeat of an event already kept)."""
    type_ = ANYMAIL_TYPES.get(getattr(event, "event_type", None) or "")
    if type_ is None:
        return None
    message = message_for_esp_event(event)
    if message is None:
        logger.info("%s %s event for no known message (id %r)", esp_name, event.event_type, event.message_id)
        return None
    timestamp = getattr(event, "timestamp", None)
    data = {
        "esp": esp_name, "event_id": _text(event.event_id), "description": _text(event.description),
        "mta_response": _text(event.mta_response), "reject_reason": _text(event.reject_reason),
        "recipient": _text(event.recipient), "user_agent": _text(event.user_agent),
        "timestamp": timestamp.isoformat() if timestamp else "",
    }
    if type_ == EventType.CLICK:
        data["url"] = _text(event.click_url)
    with transaction.atomic():
        # Services post a webhook again when our answer was slow: the same event id is kept once.
        if data["event_id"] and MessageEvent.objects.filter(
                message=message, type=type_, data__event_id=data["event_id"]).exists():
            return None
        if type_ in UNDELIVERED:
            reply = data["description"] or data["mta_response"] or type_
            if data["mta_response"] and data["mta_response"] not in reply:
                reply = f"{reply} ({data['mta_response']})"
            # A report can arrive before the sending task has marked the message sent.
            Message.objects.filter(pk=message.pk, status__in=[MessageStatus.SENT, MessageStatus.SENDING]).update(
                status=MessageStatus.FAILED, reason="bounced", error=reply[:2000], lease_until=None)
            message.refresh_from_db()
        return event_record(message=message, type=type_, data=data)


def webhooks_secured() -> bool:
    secret = (getattr(settings, "ANYMAIL", None) or {}).get("WEBHOOK_SECRET")
    return bool(secret)


try:
    from anymail.signals import tracking as _anymail_tracking
except ImportError:  # pragma: no cover - anymail is a dependency
    _anymail_tracking = None


if _anymail_tracking is not None:
    @receiver(_anymail_tracking, dispatch_uid="orchestrate.channels.esp_tracking")
    def on_esp_tracking(sender, event, esp_name, **kwargs) -> None:
        # anymail accepts unauthenticated posts when no secret is set (it only warns):
        # then nothing an anonymous post claims may change the ledger.
        if not webhooks_secured():
            logger.warning("ignoring a %s webhook: ANYMAIL WEBHOOK_SECRET is not set", esp_name)
            return
        esp_event_record(event, esp_name)


__all__ = ["EVENT_HOOKS", "event_record", "esp_event_record"]
