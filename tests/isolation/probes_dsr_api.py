"""Isolation probes for the data subject request API (workspace admins only)."""

from __future__ import annotations

from tests.isolation.probes import Probe
from tests.isolation.probes_dsr_ui import _confirm, _profile

PROBES: list[Probe] = [
    Probe("api-dsr-export", {"GET": "admin"}, make=_profile, api=True),
    Probe("api-dsr-erase", {"POST": "admin"}, make=_profile, data=_confirm, api=True),
]
