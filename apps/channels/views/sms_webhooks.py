"""The SMS providers' status callbacks: /webhooks/sms/<twilio|vonage>/<workspace slug>/status/.

Public (the providers post without a session), so every answer is short and says only
what the caller needs: 404 when the workspace does not exist or does not send through that
provider (or has nothing to check the signature with), 405 for another method, 400 for a
body that cannot be read or a receipt without its fields, 403 when the provider's
signature is missing, wrong or (Vonage) too old, 200 otherwise, also for a receipt about
no message of the workspace (the provider must not retry it forever)."""

from __future__ import annotations

import json
import logging

from django.http import HttpRequest, HttpResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt

from apps.tenants.models import Workspace

from .. import sms_receipts, sms_signatures
from ..models import ChannelConfig

logger = logging.getLogger(__name__)

METHODS = {"twilio": ("POST",), "vonage": ("GET", "POST")}
MAX_BODY = 64 * 1024


def _answer(status: int, text: str) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


def _config(provider: str, slug: str) -> ChannelConfig | None:
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        return None
    config = ChannelConfig.objects.filter(workspace=workspace, channel="sms", backend=provider).first()
    if config is None:
        return None
    has_key = sms_signatures.secret_of(config) if provider == "twilio" else sms_signatures.signing_secret_of(config)
    return config if has_key else None


def read_params(request: HttpRequest):
    """The posted (or, for GET, queried) fields: a QueryDict, or a dict of strings from a
    JSON object. ValueError when the body is not that."""
    if request.method == "GET":
        return request.GET
    if len(request.body) > MAX_BODY:
        raise ValueError("the body is too large")
    kind = request.content_type or ""
    if kind == "application/json":
        data = json.loads(request.body.decode("utf-8"))
        if not isinstance(data, dict) or not all(isinstance(v, str | int | float) for v in data.values()):
            raise ValueError("a JSON object of strings is expected")
        return {str(k): str(v) for k, v in data.items()}
    if kind != "application/x-www-form-urlencoded":
        raise ValueError("a form-encoded or JSON body is expected")
    return QueryDict(request.body, encoding="utf-8")


def flat(params) -> dict[str, str]:
    return {k: params.get(k) for k in params} if isinstance(params, QueryDict) else dict(params)


@csrf_exempt
def sms_status_webhook(request: HttpRequest, provider: str, workspace_slug: str) -> HttpResponse:
    if provider not in METHODS:
        return _answer(404, "No webhook here.")
    config = _config(provider, workspace_slug)
    if config is None:
        return _answer(404, "No webhook here.")
    if request.method not in METHODS[provider]:
        response = _answer(405, f"Only {', '.join(METHODS[provider])}.")
        response["Allow"] = ", ".join(METHODS[provider])
        return response
    try:
        params = read_params(request)
    except (ValueError, UnicodeError) as exc:
        return _answer(400, f"This is not a {provider} status callback: {exc}.")
    base = sms_receipts.status_url(config.workspace, config, provider)
    check = sms_signatures.verdict(request, config, params if provider == "twilio" else flat(params),
                                   base=(config.options or {}).get("status_callback") or base)
    if not check.ok:
        logger.info("refused %s status callback for %s: %s", provider, workspace_slug, check.problem)
        return _answer(403, f"Signature refused: {check.problem}.")
    try:
        receipt = sms_receipts.parse(provider, params, request.GET)
    except sms_receipts.Malformed as exc:
        return _answer(400, f"Malformed receipt: {exc}.")
    return _answer(200, sms_receipts.receive(config.workspace, receipt))
