"""The workspace's Consent screens: topics, suppression list, frequency caps, quiet hours,
policy, import and profile lookup; roles (bob the viewer, mallory the marketer), charlie
the outsider, and the audit log."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.consent import services
from apps.consent.models import ConsentEvent, FrequencyCap, QuietHours, RuleSet, Suppression, Topic
from apps.tenants.models import AuditEvent
from tests.factories import UserFactory, grant

UTC = dt.UTC


@pytest.fixture
def admin(workspace):
    return grant(UserFactory(email="ada@example.test"), workspace, "admin")


@pytest.fixture
def approver(workspace):
    return grant(UserFactory(email="abe@example.test"), workspace, "approver")


@pytest.fixture
def newsletter(workspace):
    return Topic.objects.create(workspace=workspace, key="newsletter", name="Newsletter", channel="email")


def url(workspace, path=""):
    return f"/w/{workspace.slug}/consent/{path}"


def test_the_nav_links_to_consent(workspace, bob, client_for):
    page = client_for(bob).get(f"/w/{workspace.slug}/").content.decode()
    assert f'href="/w/{workspace.slug}/consent/"' in page


def test_topics_list_and_add(workspace, admin, bob, newsletter, client_for):
    viewer_page = client_for(bob).get(url(workspace))
    assert viewer_page.status_code == 200
    assert "Newsletter" in viewer_page.content.decode()
    assert 'id="topic-form"' not in viewer_page.content.decode()
    # a viewer cannot add one
    assert client_for(bob).post(url(workspace), {"key": "x", "name": "X", "channel": "email",
                                                 "policy": "opt_in"}).status_code == 403
    # an admin does
    response = client_for(admin).post(url(workspace), {"key": "offers", "name": "Offers", "channel": "sms",
                                                       "policy": "opt_out", "description": ""})
    assert response.status_code == 302
    assert Topic.objects.get(key="offers").policy == "opt_out"
    # a duplicate is refused with the field's message
    again = client_for(admin).post(url(workspace), {"key": "offers", "name": "Again", "channel": "sms",
                                                    "policy": "opt_in"})
    assert again.status_code == 422
    assert "there is already a sms topic" in again.content.decode()
    assert Topic.objects.filter(workspace=workspace).count() == 2


def test_topic_edit_and_delete(workspace, admin, newsletter, client_for):
    response = client_for(admin).post(url(workspace, f"topics/{newsletter.pk}/"),
                                      {"name": "Weekly news", "policy": "opt_out", "description": "Fridays"})
    assert response.status_code == 302
    newsletter.refresh_from_db()
    assert (newsletter.name, newsletter.policy, newsletter.key) == ("Weekly news", "opt_out", "newsletter")
    services.consent_record(workspace=workspace, profile_key="1", topic=newsletter, granted=True, source="api")
    refused = client_for(admin).post(url(workspace, f"topics/{newsletter.pk}/delete/"), follow=True)
    assert "has consent history" in refused.content.decode()
    assert Topic.objects.filter(pk=newsletter.pk).exists()


def test_suppression_list_search_add_and_remove(workspace, admin, approver, mallory, bob, client_for):
    services.suppression_add(workspace=workspace, kind="email", value="ann@example.test", reason="hard_bounce")
    services.suppression_add(workspace=workspace, kind="domain", value="spam.example", reason="complaint")
    assert client_for(bob).get(url(workspace, "suppressions/")).status_code == 403
    page = client_for(mallory).get(url(workspace, "suppressions/"))
    assert page.status_code == 200
    assert 'id="suppression-form"' not in page.content.decode()  # a marketer reads, an approver adds
    # htmx search returns the list region only
    found = client_for(mallory).get(url(workspace, "suppressions/?search=ann"), HTTP_HX_REQUEST="true")
    body = found.content.decode()
    assert body.lstrip().startswith('<div id="suppression-list"')
    assert "ann@example.test" in body and "spam.example" not in body
    by_kind = client_for(mallory).get(url(workspace, "suppressions/?kind=domain"), HTTP_HX_REQUEST="true")
    assert "spam.example" in by_kind.content.decode() and "ann@example.test" not in by_kind.content.decode()

    assert client_for(mallory).post(url(workspace, "suppressions/"), {"kind": "email", "value": "b@x.test",
                                                                     "reason": "manual"}).status_code == 403
    added = client_for(approver).post(url(workspace, "suppressions/"), {"kind": "phone", "value": "+31 6 1111 2222",
                                                                        "reason": "manual", "note": "asked"})
    assert added.status_code == 302
    assert Suppression.objects.filter(kind="phone", value="+31611112222").exists()
    bad = client_for(approver).post(url(workspace, "suppressions/"), {"kind": "email", "value": "nope",
                                                                      "reason": "manual"})
    assert bad.status_code == 422
    assert "is not an email address" in bad.content.decode()

    ann = Suppression.objects.get(value="ann@example.test")
    assert client_for(approver).post(url(workspace, f"suppressions/{ann.pk}/remove/")).status_code == 403
    removed = client_for(admin).post(url(workspace, f"suppressions/{ann.pk}/remove/"), HTTP_HX_REQUEST="true")
    assert removed.status_code == 200
    assert removed["HX-Trigger"] == "suppressionChanged"
    assert "ann@example.test" not in removed.content.decode()
    assert not Suppression.objects.filter(pk=ann.pk).exists()
    assert list(AuditEvent.objects.filter(verb__startswith="suppression.").order_by("id")
                .values_list("verb", "actor_label")) == [
        ("suppression.added", "system"), ("suppression.added", "system"),
        ("suppression.added", "abe@example.test"), ("suppression.removed", "ada@example.test")]


def test_rule_sets_and_caps(workspace, admin, approver, client_for):
    assert client_for(admin).post(url(workspace, "rules/"), {"name": "Marketing"}).status_code == 302
    rule_set = RuleSet.objects.get(workspace=workspace)
    assert client_for(admin).post(url(workspace, f"rules/{rule_set.pk}/caps/"),
                                  {"limit": "3", "channel": "email", "period": "week"}).status_code == 302
    bad = client_for(admin).post(url(workspace, f"rules/{rule_set.pk}/caps/"), {"limit": "0", "period": "week"})
    assert bad.status_code == 422
    cap = FrequencyCap.objects.get(rule_set=rule_set)
    assert (cap.limit, cap.channel, cap.period) == (3, "email", "week")
    page = client_for(approver).get(url(workspace, "rules/")).content.decode()
    assert "At most <strong>3</strong> Email per week" in page
    assert client_for(approver).post(url(workspace, f"caps/{cap.pk}/remove/")).status_code == 403
    assert client_for(admin).post(url(workspace, f"rules/{rule_set.pk}/rename/"), {"name": "Caps"}).status_code == 302
    assert client_for(admin).post(url(workspace, f"caps/{cap.pk}/remove/")).status_code == 302
    assert client_for(admin).post(url(workspace, f"rules/{rule_set.pk}/delete/")).status_code == 302
    assert not RuleSet.objects.exists()
    assert list(AuditEvent.objects.filter(verb__startswith="consent.").order_by("id").values_list("verb", flat=True)
                ) == ["consent.ruleset.created", "consent.cap.added", "consent.ruleset.updated", "consent.cap.removed",
                      "consent.ruleset.deleted"]


def test_quiet_hours(workspace, admin, bob, client_for):
    response = client_for(admin).post(url(workspace, "quiet-hours/"), {
        "sms-enabled": "1", "sms-from": "08:00", "sms-until": "21:00", "email-from": "01:00"})
    assert response.status_code == 302
    assert [(q.channel, q.allowed_from, q.allowed_until) for q in QuietHours.objects.all()] == [
        ("sms", dt.time(8), dt.time(21))]
    bad = client_for(admin).post(url(workspace, "quiet-hours/"), {"sms-enabled": "1", "sms-from": "8 am"})
    assert bad.status_code == 422
    assert "Give both times" in bad.content.decode()
    assert 'value="8 am"' in bad.content.decode()  # what was typed comes back
    page = client_for(bob).get(url(workspace, "quiet-hours/")).content.decode()
    assert 'value="08:00"' in page and 'value="21:00"' in page
    assert client_for(bob).post(url(workspace, "quiet-hours/"), {}).status_code == 403
    assert QuietHours.objects.count() == 1
    # unticking removes the channel's window
    client_for(admin).post(url(workspace, "quiet-hours/"), {})
    assert not QuietHours.objects.exists()


def test_policy_form(workspace, admin, approver, client_for):
    bad = client_for(admin).post(url(workspace, "policy/"), {"soft_bounce_threshold": "25",
                                                             "unsubscribe_link_days": "90"})
    assert bad.status_code == 422
    assert services.policy_for(workspace).soft_bounce_threshold == 5
    assert client_for(approver).post(url(workspace, "policy/"), {"soft_bounce_threshold": "3",
                                                                 "unsubscribe_link_days": "90"}).status_code == 403
    ok = client_for(admin).post(url(workspace, "policy/"), {"four_eyes": "on", "soft_bounce_threshold": "3",
                                                            "unsubscribe_link_days": "30"})
    assert ok.status_code == 302
    policy = services.policy_for(workspace)
    workspace.refresh_from_db()
    assert (workspace.four_eyes, policy.soft_bounce_threshold, policy.unsubscribe_link_days) == (True, 3, 30)
    page = client_for(admin).get(url(workspace, "policy/")).content.decode()
    assert f"/inbound/sms/{workspace.slug}/" in page
    assert f"/inbound/sms/{workspace.slug}/" not in client_for(approver).get(url(workspace, "policy/")).content.decode()


def test_import_shows_counts_and_problems(workspace, mallory, bob, newsletter, client_for):
    def upload(text, mode="reject"):
        return client_for(mallory).post(url(workspace, "import/"), {
            "file": SimpleUploadedFile("c.csv", text.encode(), "text/csv"), "mode": mode, "max_errors": "10"})

    rejected = upload("profile_key,topic,granted\n1,newsletter,yes\n2,newsletter,perhaps\n")
    assert rejected.status_code == 422
    page = rejected.content.decode()
    assert "Rejected" in page and "perhaps" in page and "not a yes/no value" in page
    assert ConsentEvent.objects.count() == 0
    done = upload("profile_key,topic,granted\n1,newsletter,yes\n2,newsletter,perhaps\n", mode="skip")
    assert done.status_code == 200
    assert "2 rows · 1 imported (1 granted, 0 withdrawn) · 1 skipped" in done.content.decode()
    header = upload("who,granted\n1,yes\n")
    assert header.status_code == 422
    assert "required column missing" in header.content.decode()
    assert client_for(bob).get(url(workspace, "import/")).status_code == 403
    assert ConsentEvent.objects.count() == 1


def test_profile_lookup_and_recording(workspace, mallory, bob, newsletter, client_for):
    services.consent_record(workspace=workspace, profile_key="42", topic=newsletter, granted=True, source="import",
                            at=dt.datetime(2024, 1, 1, tzinfo=UTC), proof="paper form")
    viewer = client_for(bob).get(url(workspace, "profile/?key=42")).content.decode()
    assert 'id="profile-consents"' in viewer and "Subscribed" in viewer
    assert 'id="profile-history"' not in viewer  # history is personal data: marketers and above
    marketer = client_for(mallory).get(url(workspace, "profile/?key=42")).content.decode()
    assert 'id="profile-history"' in marketer and "paper form" in marketer
    unknown = client_for(bob).get(url(workspace, "profile/?key=nobody")).content.decode()
    assert 'id="profile-unknown"' in unknown

    assert client_for(bob).post(url(workspace, "profile/"), {"key": "42", "topic": newsletter.pk,
                                                             "granted": "0"}).status_code == 403
    recorded = client_for(mallory).post(url(workspace, "profile/"), {"key": "42", "topic": newsletter.pk,
                                                                     "granted": "0", "proof": "called us"})
    assert recorded.status_code == 302
    assert recorded["Location"].endswith("/consent/profile/?key=42")
    event = ConsentEvent.objects.order_by("-id").first()
    assert (event.granted, event.source, event.proof, event.actor) == (False, "admin", "called us", mallory)
    assert services.consent_state(workspace=workspace, profile_key="42", topic=newsletter) is False
    assert AuditEvent.objects.filter(verb="consent.withdrawn", actor=mallory).count() == 1


def test_charlie_gets_404_and_nothing_changes(workspace, charlie, newsletter, client_for):
    outsider = client_for(charlie)
    suppression = services.suppression_add(workspace=workspace, kind="email", value="a@b.test", reason="manual")
    for path in ("", f"topics/{newsletter.pk}/", "suppressions/", "rules/", "quiet-hours/", "policy/", "import/",
                 "profile/?key=1"):
        assert outsider.get(url(workspace, path)).status_code == 404, path
    assert outsider.post(url(workspace, f"suppressions/{suppression.pk}/remove/")).status_code == 404
    assert outsider.post(url(workspace, f"topics/{newsletter.pk}/delete/")).status_code == 404
    assert Suppression.objects.filter(pk=suppression.pk).exists()
    assert Topic.objects.filter(pk=newsletter.pk).exists()
