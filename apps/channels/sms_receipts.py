"""SMS delivery receipts: the providers' status callbacks, verified (sms_signatures), matched
to a message and fed into the ledger's events.

A receipt names our message (Twilio: `?message=<id>` in the callback URL we gave; Vonage:
`client-ref`), the provider's message id and the recipient; it counts only when all three
match a message of the workspace whose URL it came to (no effect across workspaces).

- delivered -> a DELIVERED event;
- a permanent failure about the number (unknown, landline, unreachable for good, opted
  out at the carrier) -> BOUNCED: the message fails ("bounced") and the send policy
  suppresses the E.164 number like a hard bounce;
- any other failure -> SOFT_BOUNCED (the message fails, "undelivered"; the policy counts
  it towards the workspace's soft-bounce threshold);
- queued, sent, accepted, buffered... -> kept as a receipt, nothing else: a message
  never goes back.

A receipt can arrive before the sending task has recorded the provider's message id (the
provider answers the send and posts the receipt at once). It is kept unsettled, and the
sending task settles its delivery's receipts once its results are recorded (`settle`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from . import tracking
from .events import event_record
from .models import EventType, Message, MessageEvent, MessageStatus, SmsReceipt

logger = logging.getLogger(__name__)

# https://www.twilio.com/docs/api/errors: invalid number, unsubscribed at the carrier,
# not reachable by SMS, not a mobile number, blocked, unknown destination, landline.
TWILIO_PERMANENT = {"21211", "21610", "21612", "21614", "30004", "30005", "30006"}
TWILIO_FAILED = {"failed", "undelivered"}
# Vonage SMS delivery receipt err-codes: absent subscriber (permanent), barred, illegal number.
VONAGE_PERMANENT = {"3", "4", "9"}
VONAGE_FAILED = {"failed", "rejected", "expired"}
DELIVERED = {"delivered"}


@dataclass(frozen=True)
class Receipt:
    provider: str
    message_pk: int
    provider_message_id: str
    recipient: str  # E.164
    status: str
    error_code: str = ""


class Malformed(ValueError):
    """A receipt without what it must carry: the message says which field."""


def status_url(workspace, config, provider: str) -> str:
    """The public URL of the workspace's status callback endpoint for `provider` (on the
    SMS configuration's tracking domain, else SITE_URL): what the provider console takes."""
    path = reverse("sms-status-webhook", kwargs={"provider": provider, "workspace_slug": workspace.slug})
    return tracking.base_url(config) + path


def callback_base(workspace, config) -> str:
    """The callback URL given with each message: the configured one, else ours."""
    configured = (config.options or {}).get("status_callback") or ""
    return configured or status_url(workspace, config, config.backend)


def with_message(base: str, message_pk: int) -> str:
    return base + ("&" if "?" in base else "?") + urlencode({"message": message_pk})


def _text(params, name: str, limit: int = 200) -> str:
    value = params.get(name)
    return str(value).strip()[:limit] if value is not None else ""


def _pk(value: str, field: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise Malformed(f"{field}: our message id (digits) is missing or wrong")
    return int(value)


def parse(provider: str, params, query) -> Receipt:
    """The receipt in `params` (form or JSON fields) and `query` (the URL's); Malformed
    names the first missing or wrong field."""
    if provider == "twilio":
        required = {"MessageSid": _text(params, "MessageSid") or _text(params, "SmsSid"),
                    "MessageStatus": _text(params, "MessageStatus") or _text(params, "SmsStatus"),
                    "To": _text(params, "To", 40)}
        message = _pk(_text(query, "message"), "message")
        code = _text(params, "ErrorCode", 20)
    else:
        required = {"messageId": _text(params, "messageId"), "status": _text(params, "status"),
                    "msisdn": _text(params, "msisdn", 40)}
        message = _pk(_text(params, "client-ref"), "client-ref")
        code = _text(params, "err-code", 20)
        if required["msisdn"] and not required["msisdn"].startswith("+"):
            required["msisdn"] = "+" + required["msisdn"]
    for name, value in required.items():
        if not value:
            raise Malformed(f"{name} is missing")
        if any(c in value for c in "\r\n\x00"):
            raise Malformed(f"{name} holds a control character")
    values = list(required.values())
    return Receipt(provider, message, values[0], values[2], values[1].lower(), code if code != "0" else "")


def event_type(receipt: Receipt) -> str | None:
    if receipt.status in DELIVERED:
        return EventType.DELIVERED
    failed, permanent = ((TWILIO_FAILED, TWILIO_PERMANENT) if receipt.provider == "twilio"
                         else (VONAGE_FAILED, VONAGE_PERMANENT))
    if receipt.status in failed:
        return EventType.BOUNCED if receipt.error_code in permanent else EventType.SOFT_BOUNCED
    return None


def receive(workspace, receipt: Receipt) -> str:
    """Keep a verified receipt: "applied", "pending" (settled when the send is recorded),
    "recorded" (a status that changes nothing), or "unknown" (no such message here)."""
    with transaction.atomic():
        # The lock makes the sending task's result wait for us (or us for it): either we
        # see its provider id, or it commits after our pending receipt exists.
        message = (Message.objects.select_for_update(of=("self",))
                   .filter(pk=receipt.message_pk, workspace_id=workspace.pk, address=receipt.recipient,
                           delivery__channel="sms").first())
        if message is None or (message.provider_id and message.provider_id != receipt.provider_message_id):
            logger.info("%s receipt for no message of %s (message %s)", receipt.provider, workspace.slug,
                        receipt.message_pk)
            return "unknown"
        row = SmsReceipt(workspace_id=workspace.pk, message=message, provider=receipt.provider,
                         provider_message_id=receipt.provider_message_id, recipient=receipt.recipient,
                         status=receipt.status, error_code=receipt.error_code)
        if not message.provider_id:
            if message.status != MessageStatus.SENDING:
                return "unknown"
            row.save()
            return "pending"
        row.outcome = _apply(message, receipt)
        row.settled_at = timezone.now()
        row.save()
        return "applied" if row.outcome != "recorded" else "recorded"


def _apply(message: Message, receipt: Receipt) -> str:
    """The receipt's event on the message (once per type); returns what it became."""
    type_ = event_type(receipt)
    if type_ is None:
        return "recorded"
    if MessageEvent.objects.filter(message=message, type=type_).exists():
        return "recorded"  # the provider posted it again
    delivered = MessageEvent.objects.filter(message=message, type=EventType.DELIVERED).exists()
    error = f"{receipt.provider} {receipt.status}" + (f" {receipt.error_code}" if receipt.error_code else "")
    if type_ != EventType.DELIVERED and not delivered:
        Message.objects.filter(pk=message.pk, status__in=[MessageStatus.SENT, MessageStatus.SENDING]).update(
            status=MessageStatus.FAILED, reason="bounced" if type_ == EventType.BOUNCED else "undelivered",
            error=error, lease_until=None)
        message.refresh_from_db()
    event_record(message=message, type=type_, data={
        "provider": receipt.provider, "provider_message_id": receipt.provider_message_id,
        "status": receipt.status, "error_code": receipt.error_code, "recipient": receipt.recipient})
    return type_


def settle(delivery_pk: int) -> int:
    """Apply the receipts of the delivery's messages that came before their provider id was
    recorded; a receipt of a send that was taken over (another provider id) is closed as
    unmatched. Returns how many were applied."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.id FROM {SmsReceipt._meta.db_table} r JOIN {Message._meta.db_table} m ON m.id = r.message_id "
            f"WHERE r.settled_at IS NULL AND m.delivery_id = %s AND m.status <> 'sending' ORDER BY r.id",
            [delivery_pk])
        ids = [row[0] for row in cursor.fetchall()]
    applied = 0
    for receipt_id in ids:
        with transaction.atomic():
            row = SmsReceipt.objects.select_for_update().filter(pk=receipt_id, settled_at__isnull=True).first()
            if row is None:
                continue
            message = Message.objects.get(pk=row.message_id)
            if message.provider_id == row.provider_message_id:
                row.outcome = _apply(message, Receipt(row.provider, message.pk, row.provider_message_id,
                                                      row.recipient, row.status, row.error_code))
                applied += row.outcome != "recorded"
            else:
                row.outcome = "unmatched"
            row.settled_at = timezone.now()
            row.save(update_fields=["outcome", "settled_at"])
    return applied
