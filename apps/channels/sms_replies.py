"""The confirmation a recipient gets when they text STOP, START or HELP, through the
workspace's SMS provider: Twilio takes it as the TwiML answer of its inbound webhook
(`<Response><Message>`), Vonage has no such answer and gets it sent through its SMS API
by the SDK (bounded by the configuration's timeout, at most REPLY_TIMEOUT).

The texts are per workspace (SMS options `reply_stop`, `reply_start`, `reply_help`);
`{workspace}` in them is the workspace's name."""

from __future__ import annotations

import logging

from .providers import Outgoing, Permanent, Retryable

logger = logging.getLogger(__name__)

DEFAULTS = {
    "stop": "{workspace}: you are unsubscribed and will get no more messages. Reply START to subscribe again.",
    "start": "{workspace}: you are subscribed again. Reply STOP to unsubscribe, HELP for help.",
    "help": "{workspace}: reply STOP to stop messages, START to receive them again.",
}
REPLY_TIMEOUT = 10.0  # seconds: the provider waits on the inbound webhook's answer


def reply_text(workspace, config, action: str) -> str:
    """The reply to a keyword ("stop", "start", "help"), or "" for anything else."""
    if action not in DEFAULTS:
        return ""
    options = (config.options or {}) if config is not None else {}
    template = options.get(f"reply_{action}") or DEFAULTS[action]
    return template.replace("{workspace}", workspace.name)


def twiml(text: str) -> str:
    """Twilio's answer: the reply as a message, or an empty response (nothing to send)."""
    from twilio.twiml.messaging_response import MessagingResponse  # noqa: PLC0415 - only where Twilio is used

    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)


def vonage_send(config, *, to: str, sender: str, text: str) -> str:
    """Send the reply through Vonage's SMS API from the number the recipient texted
    (else the configured sender). Returns the provider's message id, "" when it failed
    (logged: the keyword itself is recorded either way)."""
    from .providers.sms import VonageProvider  # noqa: PLC0415

    options = dict(config.options or {})
    timeout = min(float(options.get("timeout") or REPLY_TIMEOUT), REPLY_TIMEOUT)
    config.options = {**options, "timeout": timeout, "status_callback": "",
                      **({"sender": sender, "sender_kind": "number"} if sender else {})}
    try:
        provider = VonageProvider(None, config)
        return provider.send(Outgoing(id=0, address=to, message_id="", context={}, fields={"text": text}))
    except (Permanent, Retryable, ValueError) as exc:  # ProviderDown is a Retryable
        logger.warning("the Vonage reply to %s failed: %s", to[:6] + "…", exc)
        return ""
    finally:
        config.options = options
