"""Public routes of recipients' pages (no login) and of inbound provider callbacks."""

from django.urls import path

from .views import public

public_patterns = [
    path("u/<str:token>", public.unsubscribe, name="consent-unsubscribe"),
    path("p/<str:token>", public.preferences, name="consent-preferences"),
    path("inbound/sms/<slug:workspace_slug>/<str:secret>", public.inbound_sms, name="consent-inbound-sms"),
]
