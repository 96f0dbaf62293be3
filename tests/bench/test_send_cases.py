"""`bench send --case sms` and `--case push` with a tiny count, so the cases cannot rot:
each starts its server, a real Celery worker and the raw SDK loop, sends every message
both ways and prints its one JSON line."""

import json

import pytest

from apps.channels.models import Delivery, Message, PushSubscription
from apps.demo.generate import generate
from bench import send_channels

MESSAGES = 12


@pytest.mark.worker
@pytest.mark.parametrize("case", ["sms", "push"])
def test_the_case_sends_every_message_through_our_path_and_the_raw_loop(case, transactional_db, workspace, capsys):
    generate(workspace=workspace, profiles=MESSAGES + send_channels.WARM_PER_WORKER + 5)
    getattr(send_channels, f"case_{case}")(workspace, MESSAGES, 1)
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (line["bench"], line["case"], line["unit"]) == ("send", case, "messages/s")
    # every message went through our path (the ledger says sent) and through the raw loop
    assert line["messages"] == line["sent"] == MESSAGES
    assert line["ours"] > 0 and line["baseline"] > 0 and line["ratio"] == round(line["ours"] / line["baseline"], 3)
    assert line["ours_cpu_s"] >= 0 and line["raw_cpu_s"] > 0 and line["workers"] == 1
    # the bench leaves no deliveries, messages or devices behind
    assert not Delivery.objects.filter(workspace=workspace).exists()
    assert not Message.objects.filter(workspace=workspace).exists()
    assert not PushSubscription.objects.filter(workspace=workspace).exists()


def test_the_case_puts_the_dispatch_back():
    from apps.channels import sending

    before = sending.DISPATCH
    with send_channels._publishing_ourselves():
        assert sending.DISPATCH is not before
    assert sending.DISPATCH is before
