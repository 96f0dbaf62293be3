"""Account pages that need more than Django's stock auth views."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpResponseRedirect

from apps.core.net import client_ip
from apps.core.ratelimit import allow

log = logging.getLogger(__name__)

RESET_WINDOW_S = 3600


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset form, limited per target address and per client address. Over a
    limit the answer is the same "sent" page as always, so the limit tells nobody whether
    an account exists; only the mail is skipped."""

    def form_valid(self, form):
        email = form.cleaned_data["email"].strip().lower()
        ip = client_ip(self.request) or "unknown"
        # Both counters count every request, so neither can be probed through the other.
        per_ip = allow("pwreset-ip", ip, limit=settings.PASSWORD_RESET_LIMIT_PER_IP, window_s=RESET_WINDOW_S)
        per_email = allow("pwreset-email", email, limit=settings.PASSWORD_RESET_LIMIT_PER_EMAIL,
                          window_s=RESET_WINDOW_S)
        if per_ip and per_email:
            return super().form_valid(form)
        log.warning("password reset rate-limited (%s)", "client address" if not per_ip else "target address")
        return HttpResponseRedirect(self.get_success_url())
