from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "apps.tenants"
    label = "tenants"
    verbose_name = "Agencies and workspaces"

    def ready(self) -> None:
        from . import schema  # noqa: F401 - registers the OpenAPI auth extension
