"""The sender's gate on an SDK's requests session: a provider that offers `send_gated`
lets its SDK build the message's request (encode, encrypt, sign) while the previous
message's result commits, and waits for that commit right before the request leaves
(apps/channels/sending.py: at most one message sent but unrecorded)."""

from __future__ import annotations

import requests


def gate_session(session: requests.Session) -> None:
    """Make the session call its `gate`, when one is set, once before the next request it
    sends (after the SDK has built it)."""
    if getattr(session, "gate_installed", False):
        return
    send = session.send

    def gated_send(request, **kwargs):
        gate, session.gate = session.gate, None
        if gate is not None:
            gate()
        return send(request, **kwargs)

    session.send, session.gate, session.gate_installed = gated_send, None, True
