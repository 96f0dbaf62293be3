from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """How campaigns went: counts kept as messages change and events arrive (rollups),
    the reports built on them, charts and exports, and the agency's home. On top of
    channels and consent; nothing below imports it."""

    name = "apps.reports"
    label = "reports"
    verbose_name = "Reports"

    def ready(self) -> None:
        from apps.campaigns import hooks as campaign_hooks
        from apps.tenants import dashboard as tenant_dashboard

        from . import dashboard

        if dashboard.workspace_panel not in tenant_dashboard.PANELS:
            tenant_dashboard.PANELS.append(dashboard.workspace_panel)
        if dashboard.run_results not in campaign_hooks.RESULT_PROVIDERS:
            campaign_hooks.RESULT_PROVIDERS.append(dashboard.run_results)
