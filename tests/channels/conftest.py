"""Fixtures of the messages tests: a real SMTP server on loopback, the workspace's email
configuration pointing at it, and in-process queues for activities and sending tasks."""

import pytest

from apps.channels import sending
from apps.channels.models import ChannelConfig
from bench.smtpsink import SmtpSink
from tests.factories import make_travel_model


@pytest.fixture
def sink():
    with SmtpSink() as server:
        yield server


@pytest.fixture
def email_config(workspace, sink):
    return ChannelConfig.objects.create(
        workspace=workspace, channel="email", backend="smtp", options={"host": "127.0.0.1", "port": sink.port},
        from_email="news@travel.test", from_name="Travel News")


@pytest.fixture
def travel(workspace):
    return make_travel_model(workspace)


@pytest.fixture
def sends(monkeypatch):
    """Sending tasks in-process: returns drain(), which runs the dispatched tasks (the
    same send_some a worker runs) until none is left; returns how many ran."""
    import types

    from django.db import transaction

    pending: list[int] = []
    monkeypatch.setattr(sending, "DISPATCH", pending.append)
    # The test's transaction never commits: publish at once instead of on commit.
    monkeypatch.setattr(sending, "transaction", types.SimpleNamespace(
        on_commit=lambda fn, **kw: fn(), atomic=transaction.atomic))

    def drain() -> int:
        ran = 0
        while pending:
            sending.send_some(pending.pop(0))
            ran += 1
        return ran

    drain.pending = pending
    return drain


@pytest.fixture
def queue(monkeypatch):
    from apps.campaigns import executor

    pending: list[int] = []
    monkeypatch.setattr(executor, "DISPATCH", pending.append)

    def drain() -> int:
        ran = 0
        while pending:
            executor.activity_execute(activity_run_id=pending.pop(0))
            ran += 1
        return ran

    return drain
