"""Reads of consent, suppression and the business rules, for the API and the screens.
Objects are fetched only through `access_<thing>`, which filters by workspace in the query
and answers one 404 for missing and forbidden alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from apps.tenants.access import access_object

from .models import (
    CHANNELS,
    ConsentEvent,
    ConsentState,
    FrequencyCap,
    QuietHours,
    RuleSet,
    Suppression,
    Topic,
    WorkspacePolicy,
)

NOT_FOUND = "Not found."
CHANNEL_KEYS = [c for c, _ in CHANNELS]


def access_topic(actor: Any, workspace, pk: Any) -> Topic:
    return access_object(Topic.objects.all(), workspace, pk)


def access_suppression(actor: Any, workspace, pk: Any) -> Suppression:
    return access_object(Suppression.objects.select_related("created_by"), workspace, pk)


def access_rule_set(actor: Any, workspace, pk: Any) -> RuleSet:
    return access_object(RuleSet.objects.prefetch_related("caps"), workspace, pk)


def access_cap(actor: Any, workspace, pk: Any) -> FrequencyCap:
    return access_object(FrequencyCap.objects.select_related("rule_set"), workspace, pk)


def topic_list(*, workspace, channel: str | None = None) -> QuerySet[Topic]:
    topics = Topic.objects.filter(workspace=workspace).order_by("channel", "name", "id")
    return topics.filter(channel=channel) if channel else topics


def suppression_list(*, workspace, kind: str = "", reason: str = "", search: str = "") -> QuerySet[Suppression]:
    suppressions = Suppression.objects.filter(workspace=workspace).select_related("created_by")
    if kind:
        suppressions = suppressions.filter(kind=kind)
    if reason:
        suppressions = suppressions.filter(reason=reason)
    if search.strip():
        suppressions = suppressions.filter(Q(value__icontains=search.strip()) | Q(note__icontains=search.strip()))
    return suppressions.order_by("-created_at", "-id")


def rule_set_list(*, workspace) -> QuerySet[RuleSet]:
    return RuleSet.objects.filter(workspace=workspace).prefetch_related("caps").order_by("name", "id")


def quiet_hours(*, workspace) -> dict[str, QuietHours | None]:
    """Every channel, with its quiet hours or None (messages leave at any time)."""
    found = {q.channel: q for q in QuietHours.objects.filter(workspace=workspace)}
    return {channel: found.get(channel) for channel in CHANNEL_KEYS}


def policy(*, workspace) -> WorkspacePolicy:
    """The workspace's policy, its defaults when none was saved (reading writes nothing)."""
    return WorkspacePolicy.objects.filter(workspace=workspace).first() or WorkspacePolicy(workspace=workspace)


def policy_settings(*, workspace, current: WorkspacePolicy | None = None) -> dict[str, Any]:
    """What the policy page and API show and edit: the workspace's four-eyes rule and the
    values of its policy (`current`, else read; its defaults when none was saved)."""
    current = current or policy(workspace=workspace)
    return {"four_eyes": workspace.four_eyes, "soft_bounce_threshold": current.soft_bounce_threshold,
            "unsubscribe_link_days": current.unsubscribe_link_days}


@dataclass
class TopicAnswer:
    topic: Topic
    granted: bool  # what enforcement does now: the recorded answer, else the topic's policy
    recorded: bool  # False: nothing recorded, the policy's default applies
    at: Any = None
    source: str = ""


def profile_known(*, workspace, profile_key: str) -> bool:
    """A profile is known when it has consent events or a row in the profile dimension."""
    if ConsentEvent.objects.filter(workspace=workspace, profile_key=profile_key).exists():
        return True
    from apps.datamodel.models import Entity  # noqa: PLC0415 - consent reads the data store, not the reverse
    from apps.datamodel.selectors import record_get  # noqa: PLC0415

    profile = Entity.objects.filter(workspace=workspace, is_profile=True).first()
    if profile is None:
        return False
    try:
        record_get(entity=profile, key=profile_key)
    except Http404:
        return False
    return True


def access_profile_key(actor: Any, workspace, profile_key: str) -> str:
    if not profile_known(workspace=workspace, profile_key=profile_key):
        raise Http404(NOT_FOUND)
    return profile_key


def profile_consents(*, workspace, profile_key: str) -> list[TopicAnswer]:
    """The profile's answer on every topic of the workspace, in two queries."""
    states = {s.topic_id: s for s in ConsentState.objects.filter(workspace=workspace, profile_key=profile_key)
              .select_related("event")}
    answers = []
    for topic in topic_list(workspace=workspace):
        state = states.get(topic.pk)
        if state is None:
            answers.append(TopicAnswer(topic=topic, granted=topic.policy == "opt_out", recorded=False))
        else:
            answers.append(TopicAnswer(topic=topic, granted=state.granted, recorded=True, at=state.at,
                                       source=state.event.source))
    return answers


def profile_history(*, workspace, profile_key: str) -> QuerySet[ConsentEvent]:
    """The profile's ledger events, newest first."""
    return (ConsentEvent.objects.filter(workspace=workspace, profile_key=profile_key)
            .select_related("topic", "actor").order_by("-at", "-id"))


def consent_growth_by_workspace(workspace_ids: list[int], *, since) -> dict[int, dict[str, int]]:
    """Per workspace: consents given and withdrawn since `since` (one grouped query)."""
    found = {pk: {"granted": 0, "withdrawn": 0} for pk in workspace_ids}
    for workspace_id, granted, n in (ConsentEvent.objects.filter(workspace_id__in=workspace_ids, at__gte=since)
                                     .exclude(source="erasure").values_list("workspace_id", "granted")
                                     .annotate(n=Count("*")).order_by()):
        found[workspace_id]["granted" if granted else "withdrawn"] += n
    return found
