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

        from apps.tenants import lifecycle

        from .services.beat import workspace_beat_archived, workspace_beat_delete

        if workspace_beat_delete not in lifecycle.BEFORE_DELETE:
            lifecycle.BEFORE_DELETE.append(workspace_beat_delete)
        if workspace_beat_archived not in lifecycle.ARCHIVE_HOOKS:
            lifecycle.ARCHIVE_HOOKS.append(workspace_beat_archived)
