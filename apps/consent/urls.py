"""Consent's pages: `public_patterns`, recipients' pages (no login) and inbound provider
callbacks; `workspace_patterns`, the workspace's Consent section under /w/<slug>/consent/;
`privacy_patterns`, data subject requests under /w/<slug>/privacy/ (workspace admins only)."""

from django.urls import path

from .views import dsr, manage, policy, public

public_patterns = [
    path("u/<str:token>", public.unsubscribe, name="consent-unsubscribe"),
    path("p/<str:token>", public.preferences, name="consent-preferences"),
    path("inbound/sms/<slug:workspace_slug>/<str:secret>", public.inbound_sms, name="consent-inbound-sms"),
]

# The workspace's Consent section, under /w/<slug>/consent/ (config/urls.py).
workspace_patterns = [
    path("", manage.topics, name="consent-topics"),
    path("topics/<int:pk>/", manage.topic_edit, name="consent-topic-edit"),
    path("topics/<int:pk>/delete/", manage.topic_delete, name="consent-topic-delete"),
    path("suppressions/", manage.suppressions, name="consent-suppressions"),
    path("suppressions/<int:pk>/remove/", manage.suppression_remove, name="consent-suppression-remove"),
    path("rules/", manage.rules, name="consent-rules"),
    path("rules/<int:pk>/rename/", manage.rule_rename, name="consent-rule-rename"),
    path("rules/<int:pk>/delete/", manage.rule_delete, name="consent-rule-delete"),
    path("rules/<int:pk>/caps/", manage.cap_add, name="consent-cap-add"),
    path("caps/<int:pk>/remove/", manage.cap_remove, name="consent-cap-remove"),
    path("quiet-hours/", manage.quiet_hours, name="consent-quiet-hours"),
    path("policy/", policy.policy, name="consent-policy"),
    path("policy/inbound-sms/rotate/", policy.inbound_sms_rotate, name="consent-inbound-sms-rotate"),
    path("import/", manage.consent_import, name="consent-import"),
    path("profile/", manage.profile, name="consent-profile"),
]

# Data subject requests, under /w/<slug>/privacy/ (config/urls.py).
privacy_patterns = [
    path("", dsr.dsr_home, name="dsr-home"),
    path("<str:key>/export/", dsr.dsr_export, name="dsr-export"),
    path("<str:key>/erase/", dsr.dsr_erase, name="dsr-erase"),
]
