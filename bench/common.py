"""Shared bits of the benchmarks: the output format of DESIGN.md and a scratch workspace."""

from __future__ import annotations

import json
import resource
import secrets
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def emit(bench: str, case: str, unit: str, ours: float, baseline: float, **details: Any) -> dict[str, Any]:
    """One JSON line: ratio is always ours / baseline."""
    line = {"bench": bench, "case": case, "unit": unit, "ours": round(ours, 4), "baseline": round(baseline, 4),
            "ratio": round(ours / baseline, 3) if baseline else None, **details}
    sys.stdout.write(json.dumps(line, default=str) + "\n")
    sys.stdout.flush()
    return line


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    box: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - start


@contextmanager
def scratch_workspace(prefix: str = "bench", keep: bool = False):
    """A throwaway workspace (own agency, own schema), dropped afterwards unless keep."""
    from apps.tenants.lifecycle import workspace_delete
    from apps.tenants.models import Organization, Workspace

    suffix = secrets.token_hex(3)
    org = Organization.objects.create(name=f"Bench {suffix}", slug=f"{prefix}-org-{suffix}")
    workspace = Workspace.objects.create(organization=org, name=f"Bench {suffix}", slug=f"{prefix}-{suffix}",
                                         time_zone="Europe/Amsterdam")
    try:
        yield workspace
    finally:
        if not keep:
            # The service, not Model.delete(): consent rows PROTECT each other, and the
            # schema, beat entries and files must go too.
            workspace_delete(workspace=workspace)
            org.delete()
