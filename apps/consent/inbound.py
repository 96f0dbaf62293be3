"""The secret of a workspace's inbound SMS URL (/inbound/sms/<slug>/<secret>).

The secret is a MAC of the workspace and a generation number under the server's key, so
nothing secret is stored and admins can see the URL again; rotating bumps the generation
(configuration.inbound_sms_secret_rotate), which refuses the old URL at once, or after the
grace period the admin chose (at most INBOUND_SMS_GRACE_MAX_MINUTES).

Signature hook: once SMS providers exist (channels/providers), each one also signs its
callbacks (Twilio's X-Twilio-Signature, Vonage's signed webhooks...). `verify_signature`
is where the inbound view checks that signature with the workspace's SMS configuration;
until a provider is configured there is nothing to verify against and the URL secret is
the only check."""

from __future__ import annotations

import hmac

from django.http import HttpRequest
from django.utils import timezone

from . import links
from .models import WorkspacePolicy

INBOUND_SMS_GRACE_MAX_MINUTES = 24 * 60


def secret_for(workspace_pk: int, generation: int) -> str:
    # Generation 0 keeps the URL that existed before rotation did.
    payload = f"inbound-sms:{workspace_pk}" if generation == 0 else f"inbound-sms:{workspace_pk}:{generation}"
    return links._mac(payload)


def current_secret(workspace) -> str:
    policy = WorkspacePolicy.objects.filter(workspace=workspace).only("inbound_sms_generation").first()
    return secret_for(workspace.pk, policy.inbound_sms_generation if policy else 0)


def secret_is_valid(workspace, secret: str) -> bool:
    """Constant-time check of `secret` against the current one and, during its grace
    period, the one it replaced. Both comparisons always run."""
    policy = WorkspacePolicy.objects.filter(workspace=workspace).first()
    generation = policy.inbound_sms_generation if policy else 0
    ok = hmac.compare_digest(secret.encode(), secret_for(workspace.pk, generation).encode())
    previous = policy.inbound_sms_previous_generation if policy else None
    in_grace = (previous is not None and policy.inbound_sms_previous_valid_until is not None
                and timezone.now() < policy.inbound_sms_previous_valid_until)
    # A throwaway comparison outside the grace period keeps the timing the same.
    candidate = secret_for(workspace.pk, previous if in_grace else generation + 1)
    ok_previous = hmac.compare_digest(secret.encode(), candidate.encode()) and in_grace
    return ok or ok_previous


def verify_signature(request: HttpRequest, workspace) -> bool:
    """The SMS provider's own signature of this callback. No SMS provider exists yet, so
    there is none to check: True. When providers land, look up the workspace's SMS
    configuration here and verify its signature header (constant time), refusing
    unsigned callbacks once a provider is configured."""
    return True
