"""How many proof and test emails a person and a workspace may send: a fixed-window
counter in the cache (shared by every web process), one window per
PROOF_SEND_LIMIT_WINDOW_S. A proof to five addresses counts five; a test email one.
Attempts count whether or not the server took them (a refused test send is what a port
scan would repeat)."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache


class ProofRateLimited(Exception):
    """Too many proof or test emails: the API answers 429 with Retry-After."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.message, self.retry_after = message, retry_after


def _identity(obj) -> str:
    # The creation time with the id: a recreated database never inherits old counters.
    created = getattr(obj, "created_at", None) or getattr(obj, "date_joined", None)
    stamp = int(created.timestamp()) if created else 0
    return f"{obj._meta.label_lower}.{obj.pk}.{stamp}"


def _actor_identity(actor) -> str | None:
    api_key = getattr(actor, "api_key", None)
    if api_key is not None:
        return _identity(api_key)
    if getattr(actor, "pk", None):
        return _identity(actor)
    return None


def proof_allow(*, workspace, actor, count: int = 1) -> None:
    """Counts `count` emails against the actor's and the workspace's budget, or raises
    ProofRateLimited (and counts nothing) when either would be exceeded."""
    window = max(1, int(getattr(settings, "PROOF_SEND_LIMIT_WINDOW_S", 3600)))
    now = int(time.time())
    slot, retry_after = now // window, window - now % window
    minutes = max(1, round(retry_after / 60))
    scopes = []
    actor_id = _actor_identity(actor)
    if actor_id is not None:
        scopes.append((f"proofs:actor:{actor_id}:{slot}", int(settings.PROOF_SEND_LIMIT_PER_USER),
                       "you have sent {used} proof and test emails", "each person"))
    scopes.append((f"proofs:workspace:{_identity(workspace)}:{slot}", int(settings.PROOF_SEND_LIMIT_PER_WORKSPACE),
                   "this workspace has sent {used} proof and test emails", "each workspace"))
    for key, limit, said, who in scopes:
        used = int(cache.get(key) or 0)
        if used + count > limit:
            raise ProofRateLimited(
                f"Too many proof emails: {said.format(used=used)} in the last {window // 60} minutes and "
                f"{who} may send {limit}; {'this would be ' + str(count) + ' more; ' if count > 1 else ''}"
                f"try again in {minutes} minute{'s' if minutes != 1 else ''}.", retry_after)
    for key, _limit, _said, _who in scopes:
        cache.add(key, 0, timeout=window + 60)
        try:
            cache.incr(key, count)
        except ValueError:  # expired between add and incr
            cache.set(key, count, timeout=window + 60)
