from django.apps import AppConfig


class DatamodelConfig(AppConfig):
    name = "apps.datamodel"
    label = "datamodel"
    verbose_name = "Data model"
