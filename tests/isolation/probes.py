"""One probe per workspace-scoped URL name. A URL under /w/<slug>/ or
/api/v1/workspaces/<slug>/ without a probe here fails the suite (test_every_url_is_probed).

A probe says which methods the URL serves, the lowest role each needs, how to make the
object(s) its URL points at inside a given workspace, and a valid body for writes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apps.tenants import services
from apps.tenants.models import Invitation, Workspace
from tests.factories import UserFactory, grant, make_api_key

Maker = Callable[[Workspace], dict[str, Any]]


def _nothing(ws: Workspace) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Probe:
    name: str
    methods: dict[str, str]  # HTTP method -> lowest role that may use it
    make: Maker = _nothing  # creates the target object in `ws`, returns URL kwargs
    data: Callable[[Workspace], dict[str, Any]] = field(default=lambda ws: {})
    api: bool = False
    # State the URL needs in each workspace that is not an object of the URL (a profile
    # dimension, the entities a body names): made before make(), in both workspaces.
    setup: Maker | None = None
    # Query parameters from the URL kwargs, e.g. a delete's confirmation of the key.
    query: Callable[[dict[str, Any]], dict[str, str]] | None = None
    multipart: bool = False  # POST the body as multipart/form-data (file uploads)
    # False: a POST that only reads (a rule sent as a body): it must change nothing at all.
    writes: bool = True


_counter = iter(range(1, 10**6))


def _member(ws: Workspace) -> dict[str, Any]:
    user = grant(UserFactory(email=f"member{next(_counter)}@{ws.slug}.test"), ws, "marketer")
    return {"user_id": user.pk}


def _invitation(ws: Workspace) -> dict[str, Any]:
    invitation = services.invitation_create(workspace=ws, actor=None, email=f"invitee{next(_counter)}@example.test",
                                            role="viewer")
    return {"pk": invitation.pk}


def _api_key(ws: Workspace) -> dict[str, Any]:
    key, _ = make_api_key(ws, role="viewer", name=f"target key {next(_counter)}")
    return {"pk": key.pk}


def _new_member(ws):
    return {"email": f"newcomer{next(_counter)}@example.test", "role": "viewer"}


def _new_key(ws):
    return {"name": f"probe key {next(_counter)}", "role": "viewer"}


def _settings(ws):
    return {"name": "Renamed", "time_zone": "Europe/Paris", "default_language": "fr", "sender_name": "X",
            "sender_email": "x@example.test", "reply_to_email": ""}


PROBES: list[Probe] = [
    # --- UI ---
    Probe("ws-home", {"GET": "viewer"}),
    Probe("ws-members", {"GET": "viewer", "POST": "admin"}, data=_new_member),
    Probe("ws-member-role", {"POST": "admin"}, make=_member, data=lambda ws: {"role": "approver"}),
    Probe("ws-member-remove", {"POST": "admin"}, make=_member),
    Probe("ws-invitation-cancel", {"POST": "admin"}, make=_invitation),
    Probe("ws-apikeys", {"GET": "admin", "POST": "admin"}, data=_new_key),
    Probe("ws-apikey-revoke", {"POST": "admin"}, make=_api_key),
    Probe("ws-settings", {"GET": "admin", "POST": "admin"}, data=_settings),
    Probe("ws-audit", {"GET": "viewer"}),
    # --- API ---
    Probe("api-workspace-detail", {"GET": "viewer", "PATCH": "admin"},
          data=lambda ws: {"time_zone": "Europe/Paris"}, api=True),
    Probe("api-member-list", {"GET": "viewer", "POST": "admin"}, data=_new_member, api=True),
    Probe("api-member-detail", {"PATCH": "admin", "DELETE": "admin"}, make=_member,
          data=lambda ws: {"role": "approver"}, api=True),
    Probe("api-apikey-list", {"GET": "admin", "POST": "admin"}, data=_new_key, api=True),
    Probe("api-apikey-detail", {"GET": "admin", "DELETE": "admin"}, make=_api_key, api=True),
    Probe("api-auditevent-list", {"GET": "viewer"}, api=True),
]

# Each app keeps its probes beside this file; they are all enumerated here.
from tests.isolation.probes_audiences_api import PROBES as AUDIENCES_API_PROBES  # noqa: E402
from tests.isolation.probes_audiences_ui import PROBES as AUDIENCES_UI_PROBES  # noqa: E402
from tests.isolation.probes_campaigns_api import PROBES as CAMPAIGNS_API_PROBES  # noqa: E402
from tests.isolation.probes_campaigns_ui import PROBES as CAMPAIGNS_UI_PROBES  # noqa: E402
from tests.isolation.probes_channels_api import PROBES as CHANNELS_API_PROBES  # noqa: E402
from tests.isolation.probes_channels_ui import PROBES as CHANNELS_UI_PROBES  # noqa: E402
from tests.isolation.probes_consent_api import PROBES as CONSENT_API_PROBES  # noqa: E402
from tests.isolation.probes_consent_ui import PROBES as CONSENT_UI_PROBES  # noqa: E402
from tests.isolation.probes_datamodel_api import PROBES as DATAMODEL_API_PROBES  # noqa: E402
from tests.isolation.probes_datamodel_ui import PROBES as DATAMODEL_UI_PROBES  # noqa: E402
from tests.isolation.probes_dsr_api import PROBES as DSR_API_PROBES  # noqa: E402
from tests.isolation.probes_dsr_ui import PROBES as DSR_UI_PROBES  # noqa: E402
from tests.isolation.probes_push_api import PROBES as PUSH_API_PROBES  # noqa: E402
from tests.isolation.probes_push_ui import PROBES as PUSH_UI_PROBES  # noqa: E402
from tests.isolation.probes_reports_ui import PROBES as REPORTS_UI_PROBES  # noqa: E402
from tests.isolation.probes_templates_api import PROBES as TEMPLATES_API_PROBES  # noqa: E402
from tests.isolation.probes_templates_ui import PROBES as TEMPLATES_UI_PROBES  # noqa: E402

PROBES = PROBES + DATAMODEL_UI_PROBES + DATAMODEL_API_PROBES + AUDIENCES_API_PROBES + AUDIENCES_UI_PROBES
PROBES = PROBES + CAMPAIGNS_API_PROBES
PROBES = PROBES + CAMPAIGNS_UI_PROBES
PROBES = PROBES + CHANNELS_UI_PROBES + CHANNELS_API_PROBES
PROBES = PROBES + TEMPLATES_UI_PROBES + TEMPLATES_API_PROBES
PROBES = PROBES + CONSENT_UI_PROBES + CONSENT_API_PROBES
PROBES = PROBES + DSR_UI_PROBES + DSR_API_PROBES
PROBES = PROBES + PUSH_API_PROBES + PUSH_UI_PROBES
PROBES = PROBES + REPORTS_UI_PROBES
BY_NAME = {probe.name: probe for probe in PROBES}

__all__ = ["PROBES", "BY_NAME", "Probe", "Invitation"]
