"""Twilio and Vonage build each SMS request while the previous result commits, but the
request reaches the provider only after the sender's wait (the gate) returned: at most one
result is ever unrecorded."""

import pytest

from apps.channels.models import Delivery
from apps.channels.providers import Outgoing, Permanent
from apps.channels.providers.sms import sms_provider
from bench.smsgateway import SmsGateway
from tests.channels.test_sms_sending import SID, TOKEN, VKEY, VSECRET, configure


@pytest.mark.parametrize("backend", ["twilio", "vonage"])
def test_each_sms_request_leaves_only_after_the_previous_result_is_recorded(workspace, backend):
    with SmsGateway(twilio=(SID, TOKEN), vonage=(VKEY, VSECRET)) as gateway:
        provider = sms_provider(Delivery(workspace=workspace, channel="sms"), configure(workspace, gateway, backend))
        seen_at_gate = []
        for i in range(3):
            item = Outgoing(id=i + 1, address=f"+3161234567{i}", message_id=f"<m{i}@travel.test>",
                            fields={"text": f"Hi {i}"}, context={})
            provider.send_gated(item, lambda: seen_at_gate.append(gateway.count))
        provider.close()
        assert seen_at_gate == [0, 1, 2]  # each wait before its own message reached the gateway
        assert [m.body for m in gateway.messages] == ["Hi 0", "Hi 1", "Hi 2"]


def test_a_message_refused_before_the_sdk_is_called_does_not_pass_the_gate(workspace):
    with SmsGateway(twilio=(SID, TOKEN)) as gateway:
        provider = sms_provider(Delivery(workspace=workspace, channel="sms"), configure(workspace, gateway))
        gates = []
        with pytest.raises(Permanent):
            provider.send_gated(Outgoing(id=1, address="+31612345670", message_id="<m@t>", fields={"text": ""},
                                         context={}), lambda: gates.append(1))
        assert gates == [] and gateway.count == 0
