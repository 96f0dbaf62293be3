"""Login throttling on top of django-axes.

Axes locks a (username, client address) pair after AXES_FAILURE_LIMIT failures. That
alone lets one address try one common password against every account ("password
spraying"), so this handler also blocks an address once its failures over ALL accounts
reach AXES_IP_FAILURE_LIMIT within AXES_COOLOFF_TIME. The limit is higher than the
per-account one: an office behind one NAT address shares it.
"""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Sum


def _ip_failures(request) -> int:
    ip = getattr(request, "axes_ip_address", None)
    if not ip:
        return 0
    total = AccessAttempt.objects.filter(
        ip_address=ip, attempt_time__gt=get_cool_off_threshold(request),
    ).aggregate(total=Sum("failures_since_start"))["total"]
    return total or 0


def _ip_blocked(request) -> bool:
    return _ip_failures(request) >= settings.AXES_IP_FAILURE_LIMIT


class LockoutHandler(AxesDatabaseHandler):
    """Axes' database handler plus a per-address limit over all accounts."""

    def is_locked(self, request, credentials=None) -> bool:
        return super().is_locked(request, credentials) or _ip_blocked(request)

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is not None and not getattr(request, "axes_locked_out", False) and _ip_blocked(request):
            # Axes answers with the lockout page when this flag is set (its middleware).
            request.axes_locked_out = True
            request.axes_credentials = credentials
