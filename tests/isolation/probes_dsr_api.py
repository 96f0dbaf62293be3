"""Isolation probes for the data subject request API (workspace admins only)."""

from __future__ import annotations

from typing import Any

from apps.tenants.models import Workspace
from tests.isolation.probes import Probe
from tests.isolation.probes_dsr_ui import _confirm, _profile

_latest: list[str] = []


def _profile_by_email(ws: Workspace) -> dict[str, Any]:
    # made in the twin, then the victim: the query names the victim's (the latest) email
    _latest[:] = [_profile(ws)["key"]]
    return {}


PROBES: list[Probe] = [
    Probe("api-dsr-export", {"GET": "admin"}, make=_profile, api=True),
    Probe("api-dsr-erase", {"POST": "admin"}, make=_profile, data=_confirm, api=True),
    # The victim's profile by its email (tests/consent/test_dsr_lookup.py: under the twin's slug, a 404).
    Probe("api-dsr-lookup", {"GET": "admin"}, setup=_profile_by_email, api=True,
          query=lambda kwargs: {"email": f"probe{_latest[0]}@example.test"}),
]
