"""Isolation probes for the campaign screens (see probes.py for what a probe says).

A campaign that can run or be published needs an entity to target: setup() makes one
per workspace (a key unique across workspaces, from a counter), and make() builds a
complete campaign on the workspace's newest probe entity. Runs are made as rows (the
executor is not needed to show a run's page)."""

from __future__ import annotations

from typing import Any

from apps.campaigns import services
from apps.campaigns.models import ActivityRun, Run
from apps.datamodel import services as datamodel_services
from apps.datamodel.models import Entity
from apps.tenants.models import Workspace
from tests.isolation.probes import Probe

_counter = iter(range(1, 10**6))


def _setup(ws: Workspace) -> dict[str, Any]:
    datamodel_services.entity_create(
        workspace=ws, actor=None, key=f"caui_{next(_counter)}", primary_key={"key": "id", "type": "integer"},
        attributes=[{"key": "score", "type": "integer"}])
    return {}


def _complete(ws: Workspace) -> dict[str, Any]:
    entity = Entity.objects.filter(workspace=ws, key__startswith="caui_").latest("id")
    return {"nodes": [{"id": "start", "type": "start", "settings": {}},
                      {"id": "top", "type": "build_audience", "settings": {"definition": {
                          "entity": entity.key, "rule": {"attr": "score", "op": "gte", "value": 1}}}},
                      {"id": "end", "type": "end", "settings": {}}],
            "edges": [{"from": "start", "outlet": "out", "to": "top"}, {"from": "top", "outlet": "out", "to": "end"}]}


def _campaign(ws: Workspace) -> dict[str, Any]:
    campaign = services.campaign_create(workspace=ws, actor=None, name=f"Probe campaign {next(_counter)}")
    return {"pk": campaign.pk}


def _complete_campaign(ws: Workspace) -> dict[str, Any]:
    campaign = services.campaign_create(workspace=ws, actor=None, name=f"Probe campaign {next(_counter)}",
                                        definition=_complete(ws))
    return {"pk": campaign.pk}


def _run(ws: Workspace) -> dict[str, Any]:
    campaign = services.campaign_create(workspace=ws, actor=None, name=f"Probe campaign {next(_counter)}")
    run = Run.objects.create(workspace=ws, campaign=campaign, version=services.latest_version(campaign),
                             status="done")
    ActivityRun.objects.create(workspace=ws, run=run, node_id="start", type="start", status="done")
    return {"pk": run.pk}


def _run_with_edge(ws: Workspace) -> dict[str, Any]:
    campaign = services.campaign_create(workspace=ws, actor=None, name=f"Probe campaign {next(_counter)}", definition={
        "nodes": [{"id": "start", "type": "start", "settings": {}}, {"id": "end", "type": "end", "settings": {}}],
        "edges": [{"from": "start", "outlet": "out", "to": "end"}]})
    run = Run.objects.create(workspace=ws, campaign=campaign, version=services.latest_version(campaign),
                             status="done")
    ActivityRun.objects.create(workspace=ws, run=run, node_id="start", type="start", status="done")
    return {"pk": run.pk}


def _failed(ws: Workspace) -> dict[str, Any]:
    campaign = services.campaign_create(workspace=ws, actor=None, name=f"Probe campaign {next(_counter)}",
                                        definition=_complete(ws))
    run = Run.objects.create(workspace=ws, campaign=campaign, version=services.latest_version(campaign),
                             status="failed")
    for node in services.latest_version(campaign).definition["nodes"]:
        ActivityRun.objects.create(workspace=ws, run=run, node_id=node["id"], type=node["type"],
                                   status="done" if node["type"] == "start" else "skipped")
    failing = next(n["id"] for n in services.latest_version(campaign).definition["nodes"] if n["type"] != "start")
    ActivityRun.objects.filter(run=run, node_id=failing).update(status="failed", error="probe")
    return {"pk": run.pk, "node_id": failing}


def _running(ws: Workspace) -> dict[str, Any]:
    campaign = services.campaign_create(workspace=ws, actor=None, name=f"Probe campaign {next(_counter)}")
    run = Run.objects.create(workspace=ws, campaign=campaign, version=services.latest_version(campaign),
                             status="running")
    ActivityRun.objects.create(workspace=ws, run=run, node_id="start", type="start", status="queued")
    return {"pk": run.pk}


def _awaiting(ws: Workspace) -> dict[str, Any]:
    """A live run whose channel activity waits for confirmation."""
    campaign = services.campaign_create(workspace=ws, actor=None, name=f"Probe campaign {next(_counter)}")
    campaign.confirm_before_send = True
    campaign.save(update_fields=["confirm_before_send"])
    run = Run.objects.create(workspace=ws, campaign=campaign, version=services.latest_version(campaign),
                             mode="live", status="running")
    ActivityRun.objects.create(workspace=ws, run=run, node_id="start", type="start", status="done")
    ActivityRun.objects.create(workspace=ws, run=run, node_id="mail", type="email", status="awaiting_confirmation")
    return {"pk": run.pk}


PROBES: list[Probe] = [
    Probe("camp-list", {"GET": "viewer", "POST": "marketer"},
          data=lambda ws: {"name": f"New probe campaign {next(_counter)}", "description": ""}),
    Probe("camp-detail", {"GET": "viewer"}, make=_campaign),
    Probe("camp-edit", {"POST": "marketer"}, make=_campaign,
          data=lambda ws: {"action": "add", "node": "start", "type": "build_audience"}),
    Probe("camp-test-run", {"POST": "marketer"}, setup=_setup, make=_complete_campaign),
    Probe("camp-duplicate", {"POST": "marketer"}, make=_campaign),
    Probe("camp-lifecycle", {"POST": "approver"}, setup=_setup, make=_complete_campaign,
          data=lambda ws: {"action": "publish"}),
    Probe("camp-run", {"GET": "viewer"}, make=_run),
    Probe("camp-run-status", {"GET": "viewer"}, make=_run),
    Probe("camp-schedule", {"POST": "marketer"}, make=_campaign,
          data=lambda ws: {"kind": "daily", "times": "09:00"}),
    Probe("camp-run-retry", {"POST": "marketer"}, setup=_setup, make=_failed),
    Probe("camp-run-stop", {"POST": "approver"}, make=_running),
    Probe("camp-run-confirm", {"POST": "approver"}, make=_awaiting),
    Probe("camp-run-edge", {"GET": "viewer"}, make=_run_with_edge, query=lambda kw: {"edge": "start|out|end"}),
    Probe("camp-approvals", {"GET": "viewer"}),
    Probe("camp-approvals-count", {"GET": "viewer"}),
    Probe("camp-approval", {"POST": "marketer"}, setup=_setup, make=_complete_campaign,
          data=lambda ws: {"action": "request", "note": "probe"}),
]
