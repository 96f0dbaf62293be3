from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "apps.campaigns"
    label = "campaigns"
    verbose_name = "Campaigns"

    def ready(self) -> None:
        from apps.audiences.selectors import USAGE_PROVIDERS

        from .usage import campaigns_using

        if campaigns_using not in USAGE_PROVIDERS:
            USAGE_PROVIDERS.append(campaigns_using)
