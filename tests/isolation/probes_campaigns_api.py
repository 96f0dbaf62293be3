"""Isolation probes for the campaigns API (see probes.py for what a probe says).

Each workspace gets the travel model once (the definition's Build audience reads
`customer`); every make() creates a fresh campaign with a name unique across workspaces, in
the state its URL needs (a draft, a published live one, a paused one, one with a test
run). Test runs and starts create a run row (so their writes really write); their Celery
dispatch is an on-commit hook, which the test transaction never commits, so no task is
left in the broker pointing at rolled-back rows (and a worker given a missing activity id
finds nothing to claim)."""

from __future__ import annotations

from typing import Any

from apps.campaigns import services
from apps.campaigns.models import Campaign
from apps.tenants.models import Workspace
from tests.factories import UserFactory, grant
from tests.isolation.probes import Probe
from tests.isolation.probes_audiences_api import _travel

_counter = iter(range(1, 10**6))

DEFINITION = {"nodes": [{"id": "start", "type": "start"},
                        {"id": "nl", "type": "build_audience", "settings": {"definition": {
                            "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}}}},
                        {"id": "end", "type": "end"}],
              "edges": [{"from": "start", "to": "nl"}, {"from": "nl", "to": "end"}]}


def _draft(ws: Workspace):
    _travel(ws)
    return services.campaign_create(workspace=ws, actor=None, name=f"Probe campaign {next(_counter)}",
                                    definition=DEFINITION)


def _campaign(ws: Workspace) -> dict[str, Any]:
    return {"pk": _draft(ws).pk}


def _published(ws: Workspace) -> dict[str, Any]:
    campaign = _draft(ws)
    services.campaign_publish(workspace=ws, actor=None, campaign=campaign)
    return {"pk": campaign.pk}


def _requested(ws: Workspace) -> dict[str, Any]:
    """A draft whose approval a marketer (a person: an approver key may decide) requested."""
    campaign = _draft(ws)
    asker = grant(UserFactory(email=f"asker{next(_counter)}@{ws.slug}.test"), ws, "marketer")
    services.approval_request(workspace=ws, actor=asker, campaign=campaign)
    return {"pk": campaign.pk}


def _paused(ws: Workspace) -> dict[str, Any]:
    kwargs = _published(ws)
    campaign = Campaign.objects.get(pk=kwargs["pk"])
    services.campaign_pause(workspace=ws, actor=None, campaign=campaign)
    return kwargs


def _test_run(ws: Workspace):
    return services.test_run_start(workspace=ws, actor=None, campaign=_draft(ws))


def _campaign_with_run(ws: Workspace) -> dict[str, Any]:
    return {"pk": _test_run(ws).campaign_id}


def _run(ws: Workspace) -> dict[str, Any]:
    return {"pk": _test_run(ws).pk}


def _run_activity(ws: Workspace) -> dict[str, Any]:
    return {"pk": _test_run(ws).pk, "node_id": "nl"}


def _campaign_scheduled(ws: Workspace) -> dict[str, Any]:
    from apps.campaigns.services import schedule_set

    campaign = _draft(ws)
    schedule_set(campaign=campaign, spec={"kind": "daily", "times": ["09:00"]})
    return {"pk": campaign.pk}


def _failed_activity(ws: Workspace) -> dict[str, Any]:
    from apps.campaigns.models import ActivityRun, Run

    run = _test_run(ws)
    ActivityRun.objects.filter(run=run, node_id="nl").update(status="failed", error="probe")
    Run.objects.filter(pk=run.pk).update(status="failed")
    return {"pk": run.pk, "node_id": "nl"}


def _awaiting_run(ws: Workspace) -> dict[str, Any]:
    """A live run of a confirm_before_send campaign, its channel activity at the gate."""
    from apps.campaigns.models import ActivityRun, Run

    campaign = _draft(ws)
    Campaign.objects.filter(pk=campaign.pk).update(confirm_before_send=True)
    run = Run.objects.create(workspace=ws, campaign=campaign, version=services.latest_version(campaign),
                             mode="live", status="running")
    ActivityRun.objects.create(workspace=ws, run=run, node_id="nl", type="build_audience", status="done")
    ActivityRun.objects.create(workspace=ws, run=run, node_id="mail", type="email",
                               status="awaiting_confirmation")
    return {"pk": run.pk}


def _new_campaign(ws: Workspace) -> dict[str, Any]:
    return {"name": f"Created {next(_counter)}", "description": "From the probe", "definition": DEFINITION}


def _approver(name: str, make=_published, **extra: Any) -> Probe:
    return Probe(f"api-camp-campaign-{name}", {"POST": "approver"}, make=make, api=True, **extra)


PROBES: list[Probe] = [
    Probe("api-camp-campaign-list", {"GET": "viewer", "POST": "marketer"}, setup=_travel, data=_new_campaign,
          api=True),
    Probe("api-camp-campaign-detail", {"GET": "viewer", "PATCH": "marketer", "DELETE": "marketer"},
          make=_campaign, data=lambda ws: {"name": f"Renamed {next(_counter)}", "description": "Changed"},
          api=True),
    Probe("api-camp-campaign-draft", {"GET": "viewer", "PUT": "marketer"}, make=_campaign,
          data=lambda ws: {"definition": {**DEFINITION, "nodes": [*DEFINITION["nodes"], {"id": "extra",
                                                                                         "type": "end"}]}},
          api=True),
    Probe("api-camp-campaign-validate", {"POST": "marketer"}, make=_campaign, writes=False, api=True),
    Probe("api-camp-campaign-test-run", {"POST": "marketer"}, make=_campaign, api=True),
    Probe("api-camp-campaign-duplicate", {"POST": "marketer"}, make=_campaign, api=True),
    _approver("publish", make=_campaign),
    _approver("start"),
    _approver("stop"),
    _approver("pause"),
    _approver("resume", make=_paused),
    _approver("close"),
    _approver("archive"),
    _approver("trigger", data=lambda ws: {"variables": {"offer": "SPRING24"}}),
    Probe("api-camp-campaign-runs", {"GET": "viewer"}, make=_campaign_with_run, api=True),
    Probe("api-camp-run-detail", {"GET": "viewer"}, make=_run, api=True),
    Probe("api-camp-run-activity", {"GET": "viewer"}, make=_run_activity, api=True),
    Probe("api-camp-campaign-schedule", {"GET": "viewer", "PUT": "marketer", "DELETE": "marketer"},
          make=_campaign_scheduled, data=lambda ws: {"spec": {"kind": "daily", "times": ["10:00"]}}, api=True),
    Probe("api-camp-run-activity-retry", {"POST": "marketer"}, make=_failed_activity, api=True),
    Probe("api-camp-activity-types", {"GET": "viewer"}, api=True),
    Probe("api-camp-run-stop", {"POST": "approver"}, make=_run, api=True),
    Probe("api-camp-run-confirm", {"POST": "approver"}, make=_awaiting_run, api=True),
    Probe("api-camp-definition-schema", {"GET": "viewer"}, api=True),
    Probe("api-camp-approval", {"GET": "viewer"}, make=_requested, api=True),
    Probe("api-camp-approval-request", {"POST": "marketer"}, make=_campaign, api=True,
          data=lambda ws: {"note": "probe"}),
    Probe("api-camp-approval-comment", {"POST": "marketer"}, make=_requested, api=True,
          data=lambda ws: {"body": "probe"}),
    Probe("api-camp-approval-approve", {"POST": "approver"}, make=_requested, api=True),
    Probe("api-camp-approval-send-back", {"POST": "approver"}, make=_requested, api=True,
          data=lambda ws: {"reason": "probe"}),
]
