from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo agency and its data: on top of every other app, it seeds through their
    services only. No other app imports it (bench may)."""

    name = "apps.demo"
    label = "demo"
    verbose_name = "Demo data"
