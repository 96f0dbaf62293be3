"""messages_anonymize, the erasure service channels offers the consent layer: the messages
keep their counts but lose their recipient, their events lose the data that identifies a
person, and another workspace's messages named by mistake are left alone."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.channels.models import Delivery, Message, MessageEvent
from apps.channels.selectors import message_events, profile_messages
from apps.channels.services import messages_anonymize
from tests.factories import WorkspaceFactory


def sent_message(workspace, key: str) -> Message:
    delivery = Delivery.objects.create(workspace=workspace, channel="email", name="Spring",
                                       expires_at=timezone.now() + dt.timedelta(hours=12))
    message = Message.objects.create(workspace=workspace, delivery=delivery, profile_key=key, target_key=key,
                                     address=f"{key}@example.test", status="sent", error="550 anna@example.test")
    MessageEvent.objects.create(workspace=workspace, message=message, type="open",
                                data={"ip": "198.51.100.7", "user_agent": "phone", "url": "https://x.test/"})
    MessageEvent.objects.create(workspace=workspace, message=message, type="delivered", data={"provider": "smtp"})
    return message


def test_messages_anonymize_unlinks_the_workspace_messages_and_clears_their_events(workspace):
    # given
    mine = sent_message(workspace, "anna")
    other = WorkspaceFactory(organization=workspace.organization, name="Second", slug="second")
    theirs = sent_message(other, "anna")
    # when: the other workspace's message is named too, by mistake
    result = messages_anonymize(workspace=workspace, message_ids=[mine.pk, theirs.pk], pseudonym="erased:abc")
    # then
    assert result == (1, 1)
    mine.refresh_from_db()
    assert (mine.profile_key, mine.target_key, mine.address, mine.error, mine.status) == (
        "erased:abc", "erased:abc", "", "", "sent")
    assert {e.type: e.data for e in message_events(workspace=workspace, message_ids=[mine.pk])} == {
        "open": {"url": "https://x.test/"}, "delivered": {"provider": "smtp"}}
    theirs.refresh_from_db()
    assert (theirs.profile_key, theirs.address) == ("anna", "anna@example.test")
    assert MessageEvent.objects.get(message=theirs, type="open").data["ip"] == "198.51.100.7"
    assert list(profile_messages(workspace=other, profile_key="anna")) == [theirs]
    assert not profile_messages(workspace=workspace, profile_key="anna").exists()


def test_messages_anonymize_of_no_message_does_nothing(workspace, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert messages_anonymize(workspace=workspace, message_ids=[], pseudonym="erased:abc") == (0, 0)
