"""Waiting for what real worker processes do, with a bound."""

import time


def wait_for(predicate, seconds: float = 60, step: float = 0.1) -> bool:
    """Poll `predicate` until it is true (True) or `seconds` have passed (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False
