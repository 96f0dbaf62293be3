"""Fixtures shared by the campaign tests."""

import pytest

from apps.campaigns import executor
from tests.factories import make_travel_model


@pytest.fixture
def queue(monkeypatch):
    """Dispatch in-process: the same claim/execute code a worker runs, without Celery.
    Returns drain(), which runs what is queued and returns how many activities ran."""
    pending: list[int] = []
    monkeypatch.setattr(executor, "DISPATCH", pending.append)

    def drain() -> int:
        ran = 0
        while pending:
            executor.activity_execute(activity_run_id=pending.pop(0))
            ran += 1
        return ran

    return drain


@pytest.fixture
def travel(workspace):
    return make_travel_model(workspace)
