from django.urls import path

from . import views

urlpatterns = [
    path("", views.agency_home, name="agency-home"),
    path("copy/", views.agency_copy, name="agency-copy"),
]
