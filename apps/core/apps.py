from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from .integers import install_default_bounds  # noqa: PLC0415

        install_default_bounds()
