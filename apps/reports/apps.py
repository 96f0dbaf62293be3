from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """How campaigns went: counts kept as messages change and events arrive (rollups),
    the reports built on them, charts and exports, and the agency's home. On top of
    channels and consent; nothing below imports it."""

    name = "apps.reports"
    label = "reports"
    verbose_name = "Reports"
