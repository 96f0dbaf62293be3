"""What a live send is about to reach, asked before it starts: the audiences the version
starts from, each counted now (bounded in time), and its channel activities.

The figure is an upper bound: splits, exclusions, consent and caps only take rows away
after the sources, so "up to N" is what the confirmation says."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError

from apps.audiences.models import Audience
from apps.audiences.rules.definition import RuleError, check_definition
from apps.audiences.selectors import count, definition_of
from apps.datamodel.schema import Schema

from .activities import REGISTRY
from .models import CampaignVersion

# The whole estimate answers within this (a page waits for it); each count gets what is left.
BUDGET_MS = 8_000
SOURCE_TYPES = ("build_audience", "read_audience")


@dataclass
class SendEstimate:
    total: int = 0
    complete: bool = True  # False: a source could not be counted in time (or at all)
    sources: list[dict[str, Any]] = field(default_factory=list)  # {label, count | None, problem}
    channels: list[dict[str, str]] = field(default_factory=list)  # {node, label, channel}

    @property
    def channel_names(self) -> str:
        return ", ".join(sorted({c["channel"] for c in self.channels})) or "no channel"


def send_estimate(*, version: CampaignVersion) -> SendEstimate:
    workspace = version.workspace
    definition = version.definition or {}
    schema = Schema.load(workspace)
    estimate = SendEstimate()
    nodes = [n for n in definition.get("nodes", []) if isinstance(n, dict)]
    for node in nodes:
        kind = REGISTRY.get(node.get("type"))
        if kind is not None and kind.sends:
            estimate.channels.append({"node": str(node.get("id")), "label": str(node.get("label") or node.get("id")),
                                      "channel": kind.label})
    deadline = time.monotonic() + BUDGET_MS / 1000
    for node in nodes:
        if node.get("type") not in SOURCE_TYPES:
            continue
        settings = node.get("settings") or {}
        label = str(node.get("label") or node.get("id"))
        left_ms = int((deadline - time.monotonic()) * 1000)
        source = {"label": label, "count": None, "problem": ""}
        estimate.sources.append(source)
        if left_ms <= 0:
            source["problem"] = "not counted: out of time"
            estimate.complete = False
            continue
        try:
            if "audience" in settings:
                audience = Audience.objects.select_related("entity", "workspace").get(
                    workspace=workspace, pk=settings["audience"])
                source["label"] = f"{label}: {audience.name}"
                checked = definition_of(audience, schema)
            else:
                checked = check_definition(workspace=workspace, definition=settings.get("definition"), schema=schema)
            source["count"] = count(definition=checked, timeout_ms=left_ms).count
        except (Audience.DoesNotExist, ValueError, TypeError, RuleError):
            source["problem"] = "not counted: its audience is not valid"
            estimate.complete = False
        except DatabaseError:
            source["problem"] = "not counted in time"
            estimate.complete = False
        else:
            estimate.total += source["count"]
    return estimate
