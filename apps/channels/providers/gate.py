"""The sender's gate on an SDK's requests session: a provider that offers `send_gated`
lets its SDK build the message's request (encode, encrypt, sign) while the previous
message's result commits, and waits for that commit right before the request leaves
(apps/channels/sending.py: at most one message sent but unrecorded)."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests


def gate_session(session: requests.Session) -> None:
    """Make the session call its `gate`, when one is set, once before the next request it
    sends (after the SDK has built it); and read the environment's settings once per
    origin (see _environment_once)."""
    if getattr(session, "gate_installed", False):
        return
    send = session.send

    def gated_send(request, **kwargs):
        gate, session.gate = session.gate, None
        if gate is not None:
            gate()
        return send(request, **kwargs)

    session.send, session.gate, session.gate_installed = gated_send, None, True
    _environment_once(session)


def _environment_once(session: requests.Session) -> None:
    """requests looks up the proxy and CA bundle variables of the environment for every
    request (a walk over os.environ: about a tenth of a small request's CPU). The session
    lives for one sending task, in which the environment does not change: the answer for
    an origin is kept (no_proxy is matched by host, so per origin is the same answer)."""
    merge = session.merge_environment_settings
    answers: dict[tuple, dict] = {}

    def merge_once(url, proxies, stream, verify, cert):
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc, stream, verify, cert)
        try:
            hash(key)
        except TypeError:
            key = None
        if proxies or key is None:  # proxies given by the SDK: as requests does
            return merge(url, proxies, stream, verify, cert)
        if key not in answers:
            answers[key] = merge(url, {}, stream, verify, cert)
        answer = answers[key]
        return {**answer, "proxies": dict(answer["proxies"])}

    session.merge_environment_settings = merge_once
