"""Fixed-window counters in the shared cache (Redis), for limits that must hold across
every web process."""

from __future__ import annotations

import hashlib

from django.core.cache import cache


def allow(scope: str, subject: str, *, limit: int, window_s: int) -> bool:
    """Count one event of `subject` in `scope`; False once `limit` events happened in the
    current window. The subject is hashed: keys never hold an address in clear."""
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    key = f"ratelimit:{scope}:{digest}"
    cache.add(key, 0, timeout=window_s)  # starts the window; a no-op while it runs
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr: a new window
        cache.add(key, 1, timeout=window_s)
        count = 1
    return count <= limit
