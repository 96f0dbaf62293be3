"""Isolation probes for these URLs (see probes.py for what a probe says)."""

from __future__ import annotations

PROBES: list = []
