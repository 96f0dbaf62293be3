from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "apps.consent"
    label = "consent"
    verbose_name = "Consent, suppression and business rules"

    def ready(self) -> None:
        from . import enforcement

        enforcement.install()
