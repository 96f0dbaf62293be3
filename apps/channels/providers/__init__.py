"""Providers hand rendered messages to the outside world. Each is built for one
delivery's chunk (`open` / `close` around it) and either sends one message at a time
(`send`, raising Retryable or Permanent) or a batch at once (`batch = True`,
`send_batch`). SMS goes through providers/sms.py (Twilio, Vonage), push through
providers/push.py (Web Push, FCM, APNs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Retryable(Exception):
    """Worth trying again later: 4xx replies, timeouts, connection errors."""

    def __init__(self, code: str, text: str):
        super().__init__(f"{code}: {text}")
        self.code, self.text = code, text


class ProviderDown(Retryable):
    """The provider cannot be reached at all (connection refused or timed out, 421 "service
    not available", an authentication outage, an ESP's 5xx or 429): nothing about the
    message; the delivery pauses and the message keeps its attempts."""


class Permanent(Exception):
    """Will not get better: 5xx replies, a refused address."""

    def __init__(self, code: str, text: str):
        super().__init__(f"{code}: {text}")
        self.code, self.text = code, text


@dataclass
class Outgoing:
    id: int
    address: str
    message_id: str  # the Message-ID header and the idempotency key
    fields: dict[str, str]  # rendered template fields
    context: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class Unavailable(Exception):
    """No provider can send on this channel for this workspace."""


def provider_for(delivery, config):
    from .email import EmailProvider  # noqa: PLC0415

    if delivery.channel == "email":
        return EmailProvider(delivery, config)
    if delivery.channel == "direct_mail":
        from .directmail import DirectMailProvider  # noqa: PLC0415

        return DirectMailProvider(delivery, config)
    if delivery.channel == "sms":
        from .sms import sms_provider  # noqa: PLC0415

        return sms_provider(delivery, config)
    if delivery.channel == "push":
        from .push import PushProvider  # noqa: PLC0415

        return PushProvider(delivery, config)
    raise Unavailable(f"no {delivery.channel} provider is available")
