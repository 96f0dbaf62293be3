"""The template editor and the email configuration page, under /w/<slug>/."""

from django.urls import path

from .views import config, templates

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
]
