from django.urls import path

from . import views

urlpatterns = [
    path("campaigns/<int:pk>/", views.campaign_report, name="rep-campaign"),
    path("campaigns/<int:pk>/<str:table>.csv", views.campaign_report_csv, name="rep-campaign-csv"),
    path("campaigns/<int:pk>/report.pdf", views.campaign_report_pdf, name="rep-campaign-pdf"),
    path("campaigns/<int:pk>/weekly/", views.campaign_subscribe, name="rep-campaign-subscribe"),
    path("weekly/<int:pk>/delete/", views.subscription_delete, name="rep-subscription-delete"),
    path("deliveries/<int:pk>/", views.delivery_report, name="rep-delivery"),
    path("deliveries/<int:pk>/<str:table>.csv", views.delivery_report_csv, name="rep-delivery-csv"),
]
