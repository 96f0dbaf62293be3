from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "apps.audiences"
    label = "audiences"
    verbose_name = "Audiences"
