from django.urls import path

from . import api_senders
from . import api_templates as api

urlpatterns = [
    path("templates/", api.TemplateListApi.as_view(), name="api-tpl-list"),
    path("templates/check/", api.TemplateCheckApi.as_view(), name="api-tpl-check"),
    path("templates/<int:pk>/", api.TemplateDetailApi.as_view(), name="api-tpl-detail"),
    path("templates/<int:pk>/preview/", api.TemplatePreviewApi.as_view(), name="api-tpl-preview"),
    path("templates/<int:pk>/proof/", api.TemplateProofApi.as_view(), name="api-tpl-proof"),
    path("channels/email/", api.ChannelConfigApi.as_view(), name="api-chan-email"),
    path("channels/email/test/", api.ChannelConfigTestApi.as_view(), name="api-chan-email-test"),
    path("channels/email/sender-domains/", api_senders.SenderDomainListApi.as_view(), name="api-sender-domains"),
    path("channels/email/sender-domains/<int:pk>/", api_senders.SenderDomainDetailApi.as_view(),
         name="api-sender-domain"),
    path("channels/email/sender-domains/<int:pk>/check-dns/", api_senders.SenderDomainCheckDnsApi.as_view(),
         name="api-sender-domain-check-dns"),
    path("channels/email/sender-domains/<int:pk>/resend/", api_senders.SenderDomainResendApi.as_view(),
         name="api-sender-domain-resend"),
]
