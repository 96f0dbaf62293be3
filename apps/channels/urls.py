"""URLs of the messages layer.

`urlpatterns`: the delivery screens, under /w/<slug>/ (workspace-scoped, in the
isolation suite). `public_patterns`: the ends of tracking links, at the site root under
/t/, reached from emails without a login."""

from django.urls import path

from .views import deliveries, directmail, tracking

urlpatterns = [
    path("deliveries/", deliveries.delivery_list, name="chan-delivery-list"),
    path("deliveries/<int:pk>/", deliveries.delivery_detail, name="chan-delivery"),
    path("deliveries/<int:pk>/status/", deliveries.delivery_status, name="chan-delivery-status"),
    path("deliveries/<int:pk>/stop/", deliveries.delivery_stop, name="chan-delivery-stop"),
    path("deliveries/<int:pk>/files/", directmail.directmail_files, name="chan-dm-files"),
    path("deliveries/<int:pk>/files/<str:name>", directmail.directmail_file, name="chan-dm-file"),
]

public_patterns = [
    path("o/<str:token>.gif", tracking.open_pixel, name="track-open"),
    path("c/<str:token>", tracking.click, name="track-click"),
]
