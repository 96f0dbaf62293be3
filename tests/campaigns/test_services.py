import pytest
from django.core.exceptions import ValidationError

from apps.campaigns import services
from apps.campaigns.graph import GraphError
from apps.campaigns.models import CampaignVersion, Run
from apps.tenants.models import AuditEvent
from tests.factories import make_travel_model

COMPLETE = {"nodes": [{"id": "start", "type": "start"},
                      {"id": "nl", "type": "build_audience", "settings": {"definition": {
                          "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}}}},
                      {"id": "end", "type": "end"}],
            "edges": [{"from": "start", "to": "nl"}, {"from": "nl", "to": "end"}]}




@pytest.fixture
def campaign(workspace):
    make_travel_model(workspace)
    return services.campaign_create(workspace=workspace, actor=None, name="Spring")


def test_a_draft_can_be_incomplete_but_not_published(workspace, campaign):
    half = {"nodes": COMPLETE["nodes"], "edges": COMPLETE["edges"][:1]}
    services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition=half)
    with pytest.raises(GraphError) as exc:
        services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    assert "nl: outlet 'out' leads nowhere: connect it (an End closes a branch)." in exc.value.messages


def test_publishing_freezes_the_version_and_editing_makes_a_new_draft(workspace, campaign):
    services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition=COMPLETE)
    version = services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    campaign.refresh_from_db()
    assert (version.number, campaign.status) == (1, "live")
    changed = {**COMPLETE, "nodes": [*COMPLETE["nodes"][:1], {**COMPLETE["nodes"][1], "settings": {"definition": {
        "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "DE"}}}}, COMPLETE["nodes"][2]]}
    draft = services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition=changed)
    assert draft.number == 2 and not draft.is_published
    assert CampaignVersion.objects.get(pk=version.pk).definition == COMPLETE  # unchanged
    services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    with pytest.raises(ValidationError, match="nothing new to publish"):
        services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    assert AuditEvent.objects.filter(workspace=workspace, verb="campaign.published").count() == 2


def test_start_runs_the_published_version_live_and_test_runs_the_latest(workspace, campaign, queue):
    services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition=COMPLETE)
    with pytest.raises(ValidationError):
        services.campaign_start(workspace=workspace, actor=None, campaign=campaign)
    test_run = services.test_run_start(workspace=workspace, actor=None, campaign=campaign)
    queue()
    assert Run.objects.get(pk=test_run.pk).status == "done"
    services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    campaign.refresh_from_db()
    live = services.campaign_start(workspace=workspace, actor=None, campaign=campaign)
    queue()
    live.refresh_from_db()
    assert (live.mode, live.status, live.version.number) == ("live", "done", 1)


def test_lifecycle_transitions_and_their_refusals(workspace, campaign):
    with pytest.raises(ValidationError):
        services.campaign_pause(workspace=workspace, actor=None, campaign=campaign)
    services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition=COMPLETE)
    services.campaign_publish(workspace=workspace, actor=None, campaign=campaign)
    campaign.refresh_from_db()
    assert services.campaign_pause(workspace=workspace, actor=None, campaign=campaign).status == "paused"
    with pytest.raises(ValidationError):
        services.campaign_start(workspace=workspace, actor=None, campaign=campaign)
    assert services.campaign_resume(workspace=workspace, actor=None, campaign=campaign).status == "live"
    assert services.campaign_close(workspace=workspace, actor=None, campaign=campaign).status == "closed"
    assert services.campaign_archive(workspace=workspace, actor=None, campaign=campaign).status == "archived"
    with pytest.raises(ValidationError):
        services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition=COMPLETE)
    copy = services.campaign_duplicate(workspace=workspace, actor=None, campaign=campaign)
    assert (copy.name, copy.status) == ("Spring (copy)", "draft")
    assert services.latest_version(copy).definition == COMPLETE


def test_an_audience_a_campaign_reads_cannot_be_deleted(workspace, campaign):
    from apps.audiences import services as audience_services
    from apps.audiences.services import audience_create

    audience = audience_create(workspace=workspace, actor=None, name="NL", definition={
        "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}})
    definition = {**COMPLETE, "nodes": [COMPLETE["nodes"][0], {"id": "nl", "type": "read_audience",
                                                               "settings": {"audience": audience.pk}},
                                        COMPLETE["nodes"][2]]}
    services.draft_save(workspace=workspace, actor=None, campaign=campaign, definition=definition)
    with pytest.raises(ValidationError) as exc:
        audience_services.audience_delete(workspace=workspace, actor=None, audience=audience)
    assert "the campaign 'Spring'" in " ".join(exc.value.messages)
