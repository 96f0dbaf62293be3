"""The secret of a workspace's inbound SMS URL (/inbound/sms/<slug>/<secret>).

The secret is a MAC of the workspace and a generation number under the server's key, so
nothing secret is stored and admins can see the URL again; rotating bumps the generation
(configuration.inbound_sms_secret_rotate), which refuses the old URL at once, or after the
grace period the admin chose (at most INBOUND_SMS_GRACE_MAX_MINUTES).

Signatures: once the workspace has an SMS provider (channels' SMS configuration), its
inbound messages must also carry that provider's signature (Twilio's X-Twilio-Signature,
Vonage's signed `sig`), checked by `verify_signature` through the channels layer (which
alone talks to the providers' SDKs); without a provider the URL secret is the only check."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

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


@dataclass(frozen=True)
class SignatureCheck:
    ok: bool
    provider: str = ""  # "twilio", "vonage", or "" (no provider configured: the URL secret only)
    problem: str = ""
    config: object = None


def verify_signature(request: HttpRequest, workspace, params=None) -> SignatureCheck:
    """The SMS provider's own signature of this inbound message, against the workspace's
    SMS configuration; with no provider configured there is nothing to check (ok).
    `params`: the fields the provider sent (default: the posted form)."""
    from apps.channels import selectors as channel_selectors  # noqa: PLC0415
    from apps.channels import sms_signatures  # noqa: PLC0415

    config = channel_selectors.channel_config(workspace=workspace, channel="sms")
    if config is None or config.backend not in ("twilio", "vonage"):
        return SignatureCheck(True)
    params = request.POST if params is None else params
    plain = params if config.backend == "twilio" else {k: params.get(k) for k in params}
    verdict = sms_signatures.verdict(request, config, plain)
    return SignatureCheck(verdict.ok, config.backend, verdict.problem, config)
