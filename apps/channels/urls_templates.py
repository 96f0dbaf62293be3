"""The template editor, the email configuration page and the sender domains, under
/w/<slug>/; `confirm_patterns`: the public end of a sender domain's confirmation link."""

from django.urls import path

from .views import config, senders, templates

urlpatterns = [
    path("templates/", templates.template_list, name="tpl-list"),
    path("templates/new/", templates.template_new, name="tpl-new"),
    path("templates/check/", templates.template_check, name="tpl-check"),
    path("templates/preview/", templates.template_preview, name="tpl-preview"),
    path("templates/proof/", templates.template_proof, name="tpl-proof"),
    path("templates/<int:pk>/", templates.template_edit, name="tpl-edit"),
    path("templates/<int:pk>/delete/", templates.template_delete, name="tpl-delete"),
    path("settings/email/", config.email_settings, name="chan-email-settings"),
    path("settings/email/test/", config.email_test, name="chan-email-test"),
    path("settings/email/senders/", senders.sender_domains, name="chan-sender-domains"),
    path("settings/email/senders/<int:pk>/resend/", senders.sender_domain_resend, name="chan-sender-domain-resend"),
    path("settings/email/senders/<int:pk>/check-dns/", senders.sender_domain_check_dns,
         name="chan-sender-domain-check-dns"),
    path("settings/email/senders/<int:pk>/delete/", senders.sender_domain_delete, name="chan-sender-domain-delete"),
]

# Public, no login: the page a sender domain's confirmation link opens.
confirm_patterns = [
    path("<str:token>/", senders.sender_domain_confirm, name="sender-domain-confirm"),
]
