"""Governance: the four-eyes rule on publishing (the last editor may not publish), and
what the audit log keeps of role changes."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from apps.campaigns import services as campaigns
from apps.campaigns.models import CampaignVersion
from apps.tenants.models import AuditEvent
from tests.factories import UserFactory, grant, make_api_key

SIMPLE = {"nodes": [{"id": "start", "type": "start"},
                    {"id": "nl", "type": "build_audience", "settings": {"definition": {
                        "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}}}},
                    {"id": "end", "type": "end"}],
          "edges": [{"from": "start", "outlet": "out", "to": "nl"}, {"from": "nl", "outlet": "out", "to": "end"}]}


@pytest.fixture
def approvers(workspace):
    return (grant(UserFactory(email="ann@example.test"), workspace, "approver"),
            grant(UserFactory(email="carl@example.test"), workspace, "approver"))


def four_eyes(workspace, on=True):
    workspace.four_eyes = on
    workspace.save(update_fields=["four_eyes"])


def drafted(workspace, editor, name="Spring"):
    campaign = campaigns.campaign_create(workspace=workspace, actor=editor, name=name, definition=SIMPLE)
    return campaign


def session(user) -> Client:
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_four_eyes_refuses_the_last_editor_and_lets_another_approver_publish(workspace, travel, approvers):
    ann, carl = approvers
    four_eyes(workspace)
    campaign = drafted(workspace, ann)
    # when the approver who edited it publishes
    with pytest.raises(ValidationError) as refused:
        campaigns.campaign_publish(workspace=workspace, actor=ann, campaign=campaign)
    # then it is refused and nothing is published
    assert refused.value.messages == [
        "four-eyes rule: version 1 was last edited by you; another approver must publish it."]
    assert CampaignVersion.objects.get(campaign=campaign).published_at is None
    assert not AuditEvent.objects.filter(workspace=workspace, verb="campaign.published").exists()
    # another approver may
    version = campaigns.campaign_publish(workspace=workspace, actor=carl, campaign=campaign)
    assert (version.number, version.published_by, version.edited_by) == (1, carl, ann)


def test_the_next_edit_makes_its_editor_the_one_who_may_not_publish(workspace, travel, approvers):
    ann, carl = approvers
    four_eyes(workspace)
    campaign = drafted(workspace, ann)
    campaigns.campaign_publish(workspace=workspace, actor=carl, campaign=campaign)
    campaigns.draft_save(workspace=workspace, actor=carl, campaign=campaign, definition=SIMPLE)
    with pytest.raises(ValidationError, match="four-eyes rule: version 2 was last edited by you"):
        campaigns.campaign_publish(workspace=workspace, actor=carl, campaign=campaign)
    assert campaigns.campaign_publish(workspace=workspace, actor=ann, campaign=campaign).number == 2


def test_without_four_eyes_the_editor_publishes(workspace, travel, approvers):
    ann, _ = approvers
    campaign = drafted(workspace, ann)
    assert campaigns.campaign_publish(workspace=workspace, actor=ann, campaign=campaign).published_by == ann


def test_four_eyes_over_the_api(workspace, travel, approvers):
    ann, carl = approvers
    four_eyes(workspace)
    campaign = drafted(workspace, ann)
    url = f"/api/v1/workspaces/{workspace.slug}/campaigns/{campaign.pk}/publish/"
    # the editor is refused with the rule's sentence (a 409: the campaign's state, not a field)
    response = session(ann).post(url)
    assert response.status_code == 409
    assert response.json() == {"detail": "four-eyes rule: version 1 was last edited by you; another approver "
                                         "must publish it."}
    # an API key names no person: it cannot be the second pair of eyes
    _, raw = make_api_key(workspace, role="approver")
    response = Client(HTTP_AUTHORIZATION=f"Bearer {raw}").post(url)
    assert response.status_code == 409 and response.json()["detail"].startswith("four-eyes rule: an approver "
                                                                                "must publish signed in")
    assert CampaignVersion.objects.get(campaign=campaign).published_at is None
    # another approver publishes
    response = session(carl).post(url)
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["published_version"]) == ("live", 1)


def test_role_changes_are_in_the_audit_log(workspace, alice):
    user = UserFactory(email="dora@example.test")
    from apps.tenants import services as tenants

    tenants.member_set_role(workspace=workspace, actor=alice, user=user, role="marketer")
    tenants.member_set_role(workspace=workspace, actor=alice, user=user, role="approver")
    tenants.member_remove(workspace=workspace, actor=alice, user=user)
    events = AuditEvent.objects.filter(workspace=workspace, target_id=str(user.pk)).order_by("id")
    assert [(e.verb, e.data) for e in events] == [
        ("member.added", {"old": None, "new": "marketer"}),
        ("member.role_changed", {"old": "marketer", "new": "approver"}),
        ("member.removed", {}),
    ]
