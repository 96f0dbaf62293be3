"""Copying a template, an audience or a campaign to another client of the same agency:
checked against the target's data model, with what it uses, or nothing at all."""

import json
from pathlib import Path

import pytest
from django.conf import settings

from apps.audiences import services as audience_services
from apps.audiences.models import Audience
from apps.campaigns import services as campaign_services
from apps.campaigns.models import Campaign
from apps.campaigns.services import latest_version
from apps.channels.configuration import template_write
from apps.channels.models import ContentTemplate
from apps.consent.configuration import rule_set_create, topic_create
from apps.consent.models import RuleSet
from apps.datamodel.modeldoc import model_import
from apps.reports import copying
from tests.factories import WorkspaceFactory, make_travel_model


@pytest.fixture
def source(workspace):
    make_travel_model(workspace)
    return workspace


@pytest.fixture
def twin(workspace):
    """Another client of the same agency, with the same data model, topic and rule set."""
    target = WorkspaceFactory(organization=workspace.organization, name="Northwind South", slug="northwind-south")
    make_travel_model(target, rows=False)
    topic_create(workspace=target, actor=None, key="newsletter", name="Newsletter", channel="email")
    rule_set_create(workspace=target, actor=None, name="Gentle")
    return target


@pytest.fixture
def retail(workspace):
    """A client with another data model: no customer entity."""
    target = WorkspaceFactory(organization=workspace.organization, name="Contoso", slug="contoso")
    doc = json.loads((Path(settings.BASE_DIR) / "apps/demo/data/contoso-retail.json").read_text())
    model_import(workspace=target, actor=None, doc=doc)
    return target


def _campaign(source):
    topic_create(workspace=source, actor=None, key="newsletter", name="Newsletter", channel="email")
    rules = rule_set_create(workspace=source, actor=None, name="Gentle")
    template = template_write(workspace=source, actor=None, name="Offers", channel="email", entity_key="customer",
                              content={"subject": "Hi {{ profile.first_name }}", "html": "<p>{{ profile.city }}</p>"})
    dutch = audience_services.audience_create(workspace=source, actor=None, name="Dutch", definition={
        "entity": "customer", "rule": {"attr": "country", "op": "eq", "value": "NL"}})
    loyal = audience_services.audience_create(workspace=source, actor=None, name="Loyal Dutch", definition={
        "entity": "customer", "rule": {"all": [{"in_audience": dutch.pk},
                                               {"attr": "loyalty_tier", "op": "eq", "value": "gold"}]}})
    return campaign_services.campaign_create(workspace=source, actor=None, name="Spring", definition={
        "nodes": [{"id": "start", "type": "start"},
                  {"id": "who", "type": "read_audience", "settings": {"audience": loyal.pk}},
                  {"id": "mail", "type": "email", "label": "Mail", "settings": {
                      "template_id": template.pk, "topic": "newsletter", "rule_set_id": rules.pk}},
                  {"id": "end", "type": "end"}],
        "edges": [{"from": "start", "outlet": "out", "to": "who"}, {"from": "who", "outlet": "out", "to": "mail"},
                  {"from": "mail", "outlet": "out", "to": "end"}]})


def test_a_campaign_is_copied_with_its_template_and_audiences(source, twin):
    campaign = _campaign(source)
    copied, made = copying.copy_object(source=source, target=twin, actor=None, kind="campaign", obj=campaign)
    assert made == ["audience 'Dutch'", "audience 'Loyal Dutch'", "template 'Offers'", "campaign 'Spring'"]
    nodes = {n["id"]: n for n in latest_version(copied).definition["nodes"]}
    loyal = Audience.objects.get(workspace=twin, name="Loyal Dutch")
    dutch = Audience.objects.get(workspace=twin, name="Dutch")
    assert nodes["who"]["settings"]["audience"] == loyal.pk
    assert loyal.definition["rule"]["all"][0] == {"in_audience": dutch.pk}
    mail = nodes["mail"]["settings"]
    assert mail["template_id"] == ContentTemplate.objects.get(workspace=twin, name="Offers").pk
    assert mail["rule_set_id"] == RuleSet.objects.get(workspace=twin, name="Gentle").pk and mail["topic"] == "newsletter"
    assert copied.workspace_id == twin.pk and copied.status == "draft"
    # copied again: new names, nothing overwritten
    again, _ = copying.copy_object(source=source, target=twin, actor=None, kind="campaign", obj=campaign)
    assert again.name == "Spring (copy)"
    assert ContentTemplate.objects.filter(workspace=twin, name__startswith="Offers").count() == 2


def test_what_does_not_map_is_reported_and_nothing_is_copied(source, retail):
    campaign = _campaign(source)
    before = (Campaign.objects.filter(workspace=retail).count(), Audience.objects.filter(workspace=retail).count(),
              ContentTemplate.objects.filter(workspace=retail).count())
    with pytest.raises(copying.CopyRefused) as refused:
        copying.copy_object(source=source, target=retail, actor=None, kind="campaign", obj=campaign)
    text = " ".join(refused.value.problems)
    assert "audience 'Dutch'" in text and "customer" in text
    assert "Mail: Contoso has no email topic 'newsletter'" in text
    assert "Mail: Contoso has no frequency-cap rule set 'Gentle'" in text
    assert before == (Campaign.objects.filter(workspace=retail).count(),
                      Audience.objects.filter(workspace=retail).count(),
                      ContentTemplate.objects.filter(workspace=retail).count())


def test_the_copy_page_copies_and_outsiders_get_404(client_for, alice, charlie, bob, source, twin, other_workspace):
    template = template_write(workspace=source, actor=None, name="Welcome", channel="email", entity_key="customer",
                              content={"subject": "Welcome {{ profile.first_name }}", "html": "<p>Hi</p>"})
    org = source.organization.slug
    page = client_for(alice).get(f"/agency/{org}/copy/", {"from": source.slug}).content.decode()
    assert f'data-copy="template-{template.pk}"' in page
    posted = client_for(alice).post(f"/agency/{org}/copy/", {"source": source.slug, "target": twin.slug,
                                                            "kind": "template", "id": template.pk})
    assert posted.status_code == 302
    assert ContentTemplate.objects.filter(workspace=twin, name="Welcome").exists()
    # an outsider, a viewer, another agency's workspace as target: 404, nothing copied
    data = {"source": source.slug, "target": twin.slug, "kind": "template", "id": template.pk}
    assert client_for(charlie).get(f"/agency/{org}/copy/").status_code == 404
    assert client_for(charlie).post(f"/agency/{org}/copy/", data).status_code == 404
    assert client_for(bob).post(f"/agency/{org}/copy/", data).status_code == 404  # a viewer of the source
    assert client_for(alice).post(f"/agency/{org}/copy/", {**data, "target": other_workspace.slug}).status_code == 404
    theirs = template_write(workspace=other_workspace, actor=None, name="Theirs", channel="email",
                            content={"subject": "x", "html": "<p>x</p>"})
    assert client_for(alice).post(f"/agency/{org}/copy/", {**data, "id": theirs.pk}).status_code == 404
    assert client_for(alice).post(f"/agency/{org}/copy/", {**data, "kind": "user"}).status_code == 400
    assert ContentTemplate.objects.filter(workspace=twin, name__startswith="Welcome").count() == 1
    assert not ContentTemplate.objects.filter(name="Theirs", workspace=twin).exists()
