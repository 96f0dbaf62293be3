from django.urls import path

from . import api

urlpatterns = [
    path("deliveries/", api.DeliveryListApi.as_view(), name="api-chan-delivery-list"),
    path("deliveries/<int:pk>/", api.DeliveryDetailApi.as_view(), name="api-chan-delivery-detail"),
    path("deliveries/<int:pk>/messages/", api.DeliveryMessageListApi.as_view(), name="api-chan-delivery-messages"),
    path("deliveries/<int:pk>/stop/", api.DeliveryStopApi.as_view(), name="api-chan-delivery-stop"),
]
