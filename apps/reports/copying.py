"""Copying a template, an audience or a campaign from one client workspace to another of
the same agency. Everything is checked against the target's own data model by the same
services that create these things there (a template's personalization, an audience's
rule, a campaign's graph); what a campaign uses comes along (its templates and the
audiences it reads or names in rules), and what cannot be mapped is reported: the
topics and frequency-cap rule sets it names must exist in the target under the same key
and name. One transaction: on any problem nothing is copied."""

from __future__ import annotations

import copy as copy_module
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.audiences import services as audience_services
from apps.audiences.models import Audience, AudienceOrigin
from apps.campaigns import services as campaign_services
from apps.campaigns.models import Campaign
from apps.campaigns.services import latest_version
from apps.channels.configuration import template_write
from apps.channels.models import ContentTemplate
from apps.consent.models import RuleSet, Topic
from apps.tenants.models import Workspace

KINDS = ("template", "audience", "campaign")
AUDIENCE_REFERENCES = ("in_audience", "not_in_audience")


class CopyRefused(ValidationError):
    """What does not map, each problem a sentence naming the object."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(problems)


@dataclass
class _Copy:
    source: Workspace
    target: Workspace
    actor: Any
    problems: list[str] = field(default_factory=list)
    templates: dict[int, ContentTemplate] = field(default_factory=dict)
    audiences: dict[int, Audience | None] = field(default_factory=dict)
    made: list[str] = field(default_factory=list)

    def free_name(self, model, name: str) -> str:
        """The name, or "<name> (copy)", "(copy 2)"... when the target has it already."""
        candidate, n = name, 1
        while model.objects.filter(workspace=self.target, name=candidate).exists():
            candidate = f"{name} (copy)" if n == 1 else f"{name} (copy {n})"
            n += 1
        return candidate[:200]

    def refused(self, what: str, exc: ValidationError) -> None:
        messages = getattr(exc, "problems", None) or exc.messages
        self.problems += [f"{what}: {message}" for message in messages]

    def template(self, template: ContentTemplate) -> ContentTemplate | None:
        if template.pk in self.templates:
            return self.templates[template.pk]
        try:
            copied = template_write(workspace=self.target, actor=self.actor,
                                    name=self.free_name(ContentTemplate, template.name), channel=template.channel,
                                    content=copy_module.deepcopy(template.content), entity_key=template.entity_key)
        except ValidationError as exc:
            self.refused(f"template {template.name!r}", exc)
            copied = None
        self.templates[template.pk] = copied
        if copied is not None:
            self.made.append(f"template {copied.name!r}")
        return copied

    def rule(self, value: Any) -> Any:
        """A rule tree with the audiences it names copied and their ids replaced."""
        if isinstance(value, list):
            return [self.rule(item) for item in value]
        if not isinstance(value, dict):
            return value
        out = {}
        for key, item in value.items():
            if key in AUDIENCE_REFERENCES and isinstance(item, int) and not isinstance(item, bool):
                named = Audience.objects.filter(workspace=self.source, pk=item).first()
                copied = self.audience(named) if named is not None else None
                if named is None:
                    self.problems.append(f"the rule names audience #{item}, which does not exist")
                out[key] = copied.pk if copied is not None else item
            else:
                out[key] = self.rule(item)
        return out

    def audience(self, audience: Audience) -> Audience | None:
        if audience.pk in self.audiences:
            return self.audiences[audience.pk]
        self.audiences[audience.pk] = None  # a rule naming itself (through others) stops here
        if audience.origin != AudienceOrigin.RULE:
            self.problems.append(f"audience {audience.name!r} is a {audience.get_origin_display().lower()}: its "
                                 f"rows are this client's, only rule audiences are copied")
            return None
        try:
            copied = audience_services.audience_create(
                workspace=self.target, actor=self.actor, name=self.free_name(Audience, audience.name),
                definition=self.rule(copy_module.deepcopy(audience.definition)), description=audience.description)
        except ValidationError as exc:
            self.refused(f"audience {audience.name!r}", exc)
            return None
        self.audiences[audience.pk] = copied
        self.made.append(f"audience {copied.name!r}")
        return copied

    def node_settings(self, node: dict[str, Any]) -> None:
        settings = node.get("settings")
        if not isinstance(settings, dict):
            return
        label = node.get("label") or node.get("id")
        if isinstance(settings.get("template_id"), int):
            template = ContentTemplate.objects.filter(workspace=self.source, pk=settings["template_id"]).first()
            copied = self.template(template) if template is not None else None
            if template is None:
                self.problems.append(f"{label}: its template #{settings['template_id']} does not exist")
            settings["template_id"] = copied.pk if copied is not None else settings["template_id"]
        if isinstance(settings.get("audience"), int) and not isinstance(settings.get("audience"), bool):
            audience = Audience.objects.filter(workspace=self.source, pk=settings["audience"]).first()
            copied = self.audience(audience) if audience is not None else None
            if audience is None:
                self.problems.append(f"{label}: its audience #{settings['audience']} does not exist")
            settings["audience"] = copied.pk if copied is not None else settings["audience"]
        if "definition" in settings:
            settings["definition"] = self.rule(settings["definition"])
        if settings.get("topic"):
            channel = node.get("type")
            if not Topic.objects.filter(workspace=self.target, key=settings["topic"], channel=channel).exists():
                self.problems.append(f"{label}: {self.target.name} has no {channel} topic {settings['topic']!r}")
        if settings.get("rule_set_id") not in (None, ""):
            rules = RuleSet.objects.filter(workspace=self.source, pk=settings["rule_set_id"]).first()
            mapped = RuleSet.objects.filter(workspace=self.target, name=rules.name).first() if rules else None
            if mapped is None:
                self.problems.append(f"{label}: {self.target.name} has no frequency-cap rule set "
                                     f"{rules.name if rules else settings['rule_set_id']!r}")
            else:
                settings["rule_set_id"] = mapped.pk

    def campaign(self, campaign: Campaign) -> Campaign | None:
        definition = copy_module.deepcopy(latest_version(campaign).definition)
        for node in definition.get("nodes", []):
            if isinstance(node, dict):
                self.node_settings(node)
        if self.problems:
            return None
        try:
            copied = campaign_services.campaign_create(
                workspace=self.target, actor=self.actor, name=self.free_name(Campaign, campaign.name),
                description=campaign.description, definition=definition)
        except ValidationError as exc:
            self.refused(f"campaign {campaign.name!r}", exc)
            return None
        self.made.append(f"campaign {copied.name!r}")
        return copied


def copy_object(*, source: Workspace, target: Workspace, actor: Any, kind: str, obj: Any) -> tuple[Any, list[str]]:
    """Copy `obj` (a `kind` of `source`) into `target`; returns (the copy, what was made).
    Raises CopyRefused listing every problem, having copied nothing."""
    if kind not in KINDS:
        raise CopyRefused([f"{kind!r} cannot be copied: a template, an audience or a campaign can."])
    if source.organization_id != target.organization_id or source.pk == target.pk:
        raise CopyRefused(["copies go to another client workspace of the same agency"])
    job = _Copy(source=source, target=target, actor=actor)
    with transaction.atomic():
        result = getattr(job, kind)(obj)
        if job.problems or result is None:  # leaving the block by an exception undoes it all
            raise CopyRefused(job.problems or [f"the {kind} could not be copied"])
    return result, job.made
