"""The messages layer's API under /api/v1/workspaces/<slug>/: deliveries, templates,
the email, SMS and push channels' configuration, sender domains and push devices."""

from django.urls import path

from . import deliveries, devices, push, senders, sms, templates

urlpatterns = [
    path("deliveries/", deliveries.DeliveryListApi.as_view(), name="api-chan-delivery-list"),
    path("deliveries/<int:pk>/", deliveries.DeliveryDetailApi.as_view(), name="api-chan-delivery-detail"),
    path("deliveries/<int:pk>/messages/", deliveries.DeliveryMessageListApi.as_view(), name="api-chan-delivery-messages"),
    path("deliveries/<int:pk>/stop/", deliveries.DeliveryStopApi.as_view(), name="api-chan-delivery-stop"),
    path("templates/", templates.TemplateListApi.as_view(), name="api-tpl-list"),
    path("templates/check/", templates.TemplateCheckApi.as_view(), name="api-tpl-check"),
    path("templates/<int:pk>/", templates.TemplateDetailApi.as_view(), name="api-tpl-detail"),
    path("templates/<int:pk>/preview/", templates.TemplatePreviewApi.as_view(), name="api-tpl-preview"),
    path("templates/<int:pk>/proof/", templates.TemplateProofApi.as_view(), name="api-tpl-proof"),
    path("channels/email/", templates.ChannelConfigApi.as_view(), name="api-chan-email"),
    path("channels/email/test/", templates.ChannelConfigTestApi.as_view(), name="api-chan-email-test"),
    path("channels/sms/", sms.SmsConfigApi.as_view(), name="api-chan-sms"),
    path("channels/sms/test/", sms.SmsConfigTestApi.as_view(), name="api-chan-sms-test"),
    path("channels/email/sender-domains/", senders.SenderDomainListApi.as_view(), name="api-sender-domains"),
    path("channels/email/sender-domains/<int:pk>/", senders.SenderDomainDetailApi.as_view(),
         name="api-sender-domain"),
    path("channels/email/sender-domains/<int:pk>/check-dns/", senders.SenderDomainCheckDnsApi.as_view(),
         name="api-sender-domain-check-dns"),
    path("channels/email/sender-domains/<int:pk>/resend/", senders.SenderDomainResendApi.as_view(),
         name="api-sender-domain-resend"),
    path("channels/push/", push.PushConfigApi.as_view(), name="api-chan-push"),
    path("push/profile-tokens/", push.PushProfileTokenApi.as_view(), name="api-push-profile-tokens"),
    path("push/subscriptions/", devices.PushSubscriptionListApi.as_view(), name="api-push-subscriptions"),
    path("push/subscriptions/unregister/", devices.PushSubscriptionUnregisterApi.as_view(),
         name="api-push-subscription-unregister"),
    path("push/subscriptions/<int:pk>/", devices.PushSubscriptionDetailApi.as_view(), name="api-push-subscription"),
]
