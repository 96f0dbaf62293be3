"""URLs of the messages layer.

`urlpatterns`: the delivery screens, the template editor, the email configuration page and
the sender domains, under /w/<slug>/ (workspace-scoped, in the isolation suite).
`public_patterns`: the ends of tracking links, at the site root under /t/, reached from
emails without a login. `confirm_patterns`: the public end of a sender domain's
confirmation link."""

from django.urls import path

from .views import (
    browser_push,
    config,
    deliveries,
    devices,
    directmail,
    media,
    pushconfig,
    senders,
    sms_webhooks,
    smsconfig,
    templates,
    tracking,
)

urlpatterns = [
    path("deliveries/", deliveries.delivery_list, name="chan-delivery-list"),
    path("deliveries/<int:pk>/", deliveries.delivery_detail, name="chan-delivery"),
    path("deliveries/<int:pk>/status/", deliveries.delivery_status, name="chan-delivery-status"),
    path("deliveries/<int:pk>/stop/", deliveries.delivery_stop, name="chan-delivery-stop"),
    path("deliveries/<int:pk>/files/", directmail.directmail_files, name="chan-dm-files"),
    path("deliveries/<int:pk>/files/<str:name>", directmail.directmail_file, name="chan-dm-file"),
    path("templates/", templates.template_list, name="tpl-list"),
    path("templates/new/", templates.template_new, name="tpl-new"),
    path("templates/check/", templates.template_check, name="tpl-check"),
    path("templates/preview/", templates.template_preview, name="tpl-preview"),
    path("templates/blocks-html/", templates.template_blocks_html, name="tpl-blocks-html"),
    path("templates/proof/", templates.template_proof, name="tpl-proof"),
    path("templates/sms-count/", templates.template_sms_count, name="tpl-sms-count"),
    path("templates/push-preview/", templates.template_push_preview, name="tpl-push-preview"),
    path("templates/<int:pk>/", templates.template_edit, name="tpl-edit"),
    path("templates/<int:pk>/delete/", templates.template_delete, name="tpl-delete"),
    path("media/images/", media.media_images, name="media-images"),
    path("settings/email/", config.email_settings, name="chan-email-settings"),
    path("settings/email/test/", config.email_test, name="chan-email-test"),
    path("settings/sms/", smsconfig.sms_settings, name="chan-sms-settings"),
    path("settings/sms/test/", smsconfig.sms_test, name="chan-sms-test"),
    path("settings/push/", pushconfig.push_settings, name="chan-push-settings"),
    path("settings/push/test/", pushconfig.push_test, name="chan-push-test"),
    path("settings/push/keys/", pushconfig.push_keys, name="chan-push-keys"),
    path("settings/push/orchestrate-sw.js", pushconfig.push_service_worker, name="chan-push-service-worker"),
    path("push/devices/<int:pk>/deactivate/", devices.device_deactivate, name="chan-push-device-deactivate"),
    path("settings/email/senders/", senders.sender_domains, name="chan-sender-domains"),
    path("settings/email/senders/<int:pk>/resend/", senders.sender_domain_resend, name="chan-sender-domain-resend"),
    path("settings/email/senders/<int:pk>/check-dns/", senders.sender_domain_check_dns,
         name="chan-sender-domain-check-dns"),
    path("settings/email/senders/<int:pk>/delete/", senders.sender_domain_delete, name="chan-sender-domain-delete"),
]

public_patterns = [
    path("o/<str:token>.gif", tracking.open_pixel, name="track-open"),
    path("c/<str:token>", tracking.click, name="track-click"),
]

# Public, no login: the images of emails (/m/<token>.<ext>), loaded by mail apps.
media_patterns = [
    path("<str:token>.<str:ext>", media.media_image, name="media-image"),
]

# Public, no login: the short links of SMS and push notifications (/s/<token>).
short_patterns = [
    path("<str:token>", tracking.short_link, name="track-short"),
]

# Public, no login: a client's website registers browsers for Web Push (apps/channels/webpush.py).
browser_push_patterns = [
    path("<slug:workspace_slug>/subscribe/", browser_push.browser_subscribe, name="push-browser-subscribe"),
    path("<slug:workspace_slug>/unsubscribe/", browser_push.browser_unsubscribe, name="push-browser-unsubscribe"),
]

# Public, no login: the SMS providers' signed status callbacks (delivery receipts).
sms_webhook_patterns = [
    path("<slug:provider>/<slug:workspace_slug>/status/", sms_webhooks.sms_status_webhook, name="sms-status-webhook"),
]

# Public, no login: the page a sender domain's confirmation link opens.
confirm_patterns = [
    path("<str:token>/", senders.sender_domain_confirm, name="sender-domain-confirm"),
]
