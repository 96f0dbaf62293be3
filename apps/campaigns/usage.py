"""Campaigns that use an audience (audience deletion is refused while any does)."""

from __future__ import annotations

from .models import Campaign, CampaignStatus


def campaigns_using(audience) -> list[str]:
    """The campaigns whose latest or published definition reads the audience."""
    uses = []
    campaigns = Campaign.objects.filter(workspace=audience.workspace).exclude(
        status=CampaignStatus.ARCHIVED).prefetch_related("versions")
    for campaign in campaigns:
        versions = sorted(campaign.versions.all(), key=lambda v: -v.number)
        relevant = versions[:1] + [v for v in versions if v.is_published][:1]
        if any(_reads(v.definition, audience.pk) for v in relevant):
            uses.append(f"the campaign {campaign.name!r}")
    return uses


def _reads(definition: dict, audience_id: int) -> bool:
    for node in (definition or {}).get("nodes", []):
        settings = node.get("settings") or {}
        if settings.get("audience") == audience_id:
            return True
        rule = (settings.get("definition") or {}).get("rule")
        if _refers(rule, audience_id):
            return True
    return False


def _refers(node, audience_id: int) -> bool:
    if isinstance(node, dict):
        if audience_id in (node.get("in_audience"), node.get("not_in_audience")):
            return True
        return any(_refers(v, audience_id) for v in node.values())
    if isinstance(node, list):
        return any(_refers(v, audience_id) for v in node)
    return False
