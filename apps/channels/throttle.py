"""Sending rate per workspace channel, shared by every worker: a fixed-window counter in
Redis. A window is one second (longer for rates below one per second)."""

from __future__ import annotations

import math
import time

from django.core.cache import cache


def acquire(key: str, rate: float | None) -> float:
    """Wait until one more message may leave; returns the seconds waited."""
    if not rate or rate <= 0:
        return 0.0
    window = max(1.0, math.ceil(1.0 / rate))
    limit = max(1, int(rate * window))
    waited = 0.0
    while True:
        now = time.time()
        slot = int(now // window)
        name = f"throttle:{key}:{slot}"
        cache.add(name, 0, timeout=int(window) + 5)
        try:
            count = cache.incr(name)
        except ValueError:  # expired between add and incr
            continue
        if count <= limit:
            return waited
        pause = (slot + 1) * window - now + 0.001
        time.sleep(pause)
        waited += pause
