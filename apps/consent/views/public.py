"""Recipients' pages, no login: one-click unsubscribe, the preference center, and the
inbound SMS keyword endpoint that SMS providers call. They work without JavaScript."""

from __future__ import annotations

import json
import re

from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.core.net import client_ip
from apps.tenants.models import Workspace

from .. import inbound, links, services
from ..models import Source, Topic

STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "OPT-OUT", "REVOKE", "ARRET",
              "ARRÊT", "STOPP", "ALTO", "BAJA"}
START_WORDS = {"START", "YES", "UNSTOP", "SUBSCRIBE", "OPTIN", "OPT-IN", "RESUME"}
HELP_WORDS = {"HELP", "INFO", "AIDE", "HILFE", "AYUDA"}


def _read(request: HttpRequest, token: str):
    """(workspace, token data) or an error page response."""
    try:
        data = links.read_token(token)
        workspace = Workspace.objects.get(pk=data["workspace_id"])
        days = services.policy_for(workspace).unsubscribe_link_days
        links.read_token(token, max_age_days=days)
    except signing.SignatureExpired:
        return None, render(request, "consent/link_problem.html", {"expired": True}, status=410)
    except (signing.BadSignature, Workspace.DoesNotExist):
        return None, render(request, "consent/link_problem.html", {"expired": False}, status=404)
    return workspace, data


def _topics(workspace, data) -> list[Topic]:
    qs = Topic.objects.filter(workspace=workspace, channel=data["channel"])
    if data["topic"]:
        qs = qs.filter(key=data["topic"])
    return list(qs)


def _withdraw(request, workspace, data, source: str) -> list[Topic]:
    changed = []
    for topic in _topics(workspace, data):
        if services.consent_state(workspace=workspace, profile_key=data["profile_key"], topic=topic):
            services.consent_record(workspace=workspace, profile_key=data["profile_key"], topic=topic, granted=False,
                                    source=source, actor="recipient", ip_address=client_ip(request),
                                    reference="one-click" if request.POST.get("List-Unsubscribe") else "")
            changed.append(topic)
    return changed


@csrf_exempt  # mail providers POST without a session (RFC 8058); the token is the proof
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """POST (a mail provider's one-click, or the confirmation form) withdraws at once.
    GET only shows the page: mail scanners follow links and must change nothing."""
    workspace, data = _read(request, token)
    if workspace is None:
        return data
    topics = _topics(workspace, data)
    # A link used again (or a topic already withdrawn another way) says so, instead of
    # asking to unsubscribe from what the recipient no longer gets.
    already = bool(topics) and not any(
        services.consent_state(workspace=workspace, profile_key=data["profile_key"], topic=t) for t in topics)
    if request.method == "POST":
        changed = _withdraw(request, workspace, data, Source.UNSUBSCRIBE_LINK)
        return render(request, "consent/unsubscribed.html", {"workspace": workspace, "topics": topics,
                                                             "token": token, "already": already and not changed})
    if already:
        return render(request, "consent/unsubscribed.html", {"workspace": workspace, "topics": topics,
                                                             "token": token, "already": True})
    return render(request, "consent/unsubscribe.html", {"workspace": workspace, "topics": topics, "token": token})


@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    """Every topic of every channel, with the recipient's current answer; saving records
    one ledger event per change."""
    workspace, data = _read(request, token)
    if workspace is None:
        return data
    profile_key = data["profile_key"]
    topics = list(Topic.objects.filter(workspace=workspace).order_by("channel", "name"))
    saved = False
    if request.method == "POST":
        # "Unsubscribe from all" withdraws every topic of every channel, whatever is ticked.
        everything = request.POST.get("all") == "unsubscribe"
        wanted = set() if everything else set(request.POST.getlist("topic"))
        for topic in topics:
            current = services.consent_state(workspace=workspace, profile_key=profile_key, topic=topic)
            desired = str(topic.pk) in wanted
            if current != desired:
                services.consent_record(workspace=workspace, profile_key=profile_key, topic=topic, granted=desired,
                                        source=Source.PREFERENCE_CENTER, actor="recipient",
                                        ip_address=client_ip(request))
        saved = "all" if everything else True
    rows = [{"topic": t, "subscribed": services.consent_state(workspace=workspace, profile_key=profile_key, topic=t)}
            for t in topics]
    return render(request, "consent/preferences.html", {"workspace": workspace, "rows": rows, "token": token,
                                                        "saved": saved})


@csrf_exempt
@require_http_methods(["POST"])
def inbound_sms(request: HttpRequest, workspace_slug: str, secret: str) -> HttpResponse:
    """An SMS provider forwards a reply: the phone (Twilio `From`, Vonage `msisdn`) and the
    text (`Body`, `text`). STOP and its synonyms withdraw every SMS topic of the profiles
    with that number; START grants them again; HELP answers with where to get help. Once
    the workspace has a provider, its signature is required too, and the confirmation goes
    back through it (Twilio: TwiML; Vonage: sent through its SMS API)."""
    workspace = Workspace.objects.filter(slug=workspace_slug).first()
    if workspace is None or not inbound.secret_is_valid(workspace, secret):
        return JsonResponse({"error": "not found"}, status=404)
    form = _fields(request)
    if form is None:
        return JsonResponse({"error": "the body is neither a form nor a JSON object of texts"}, status=400)
    check = inbound.verify_signature(request, workspace, form)
    if not check.ok:
        return JsonResponse({"error": f"the provider's signature does not match: {check.problem}"}, status=403)
    raw_phone = form.get("from", "") or form.get("From", "") or form.get("msisdn", "")
    phone = re.sub(r"[^0-9+]", "", raw_phone)
    if phone and check.provider == "vonage" and not phone.startswith("+"):
        phone = "+" + phone  # Vonage sends international numbers without the +
    body = (form.get("body", "") or form.get("Body", "") or form.get("text", "")).strip()
    word = body.split()[0].upper().strip(".!") if body else ""
    if not phone:
        return JsonResponse({"error": "the sender's number (from, From or msisdn) is missing"}, status=400)
    if word in HELP_WORDS:
        return _answer(form, workspace, check, phone, "help", {})
    if word not in STOP_WORDS | START_WORDS:
        return _answer(form, workspace, check, phone, "none", {})
    granted = word in START_WORDS
    profiles = _profiles_with_phone(workspace, phone)
    topics = list(Topic.objects.filter(workspace=workspace, channel="sms"))
    for profile_key in profiles:
        for topic in topics:
            services.consent_record(workspace=workspace, profile_key=profile_key, topic=topic, granted=granted,
                                    source=Source.INBOUND_SMS, actor="recipient",
                                    reference=f"sms from {phone}: {body[:100]}")
    if not granted and not profiles:
        # A number we cannot tie to a profile still must not get texts: suppress it.
        services.suppression_add(workspace=workspace, kind="phone", value=phone, reason="manual",
                                 actor="inbound sms", note=f"STOP keyword: {body[:100]}")
    return _answer(form, workspace, check, phone, "start" if granted else "stop",
                   {"profiles": len(profiles), "topics": len(topics)})


def _fields(request: HttpRequest):
    """The posted fields: the form, or (Vonage's POST-JSON) a JSON object of texts; None
    when the body is neither."""
    if request.content_type != "application/json":
        return request.POST
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (ValueError, UnicodeError):
        return None
    if not isinstance(data, dict) or not all(isinstance(v, str | int | float) for v in data.values()):
        return None
    return {str(k): str(v) for k, v in data.items()}


def _answer(form, workspace, check, phone: str, action: str, data: dict) -> HttpResponse:
    """The confirmation, the way the provider takes it: TwiML for Twilio, a message sent
    through Vonage's SMS API, JSON (with the text) when no provider is configured."""
    from apps.channels import sms_replies  # noqa: PLC0415 - consent builds on channels

    reply = sms_replies.reply_text(workspace, check.config, action)
    if check.provider == "twilio":
        return HttpResponse(sms_replies.twiml(reply), content_type="text/xml; charset=utf-8")
    body = {"action": action, **data}
    if reply:
        body["reply"] = reply
    if check.provider == "vonage" and reply:
        ours = form.get("to", "")
        sender = "+" + ours if re.fullmatch(r"[1-9][0-9]{5,14}", ours) else ""
        body["reply_sent"] = bool(sms_replies.vonage_send(check.config, to=phone, sender=sender, text=reply))
    return JsonResponse(body)


def _profiles_with_phone(workspace, phone: str) -> list[str]:
    from django.db import connection  # noqa: PLC0415
    from psycopg import sql  # noqa: PLC0415

    from apps.core.sqlutil import render as render_sql  # noqa: PLC0415
    from apps.datamodel import ddl  # noqa: PLC0415
    from apps.datamodel.models import AddressMapping, Entity  # noqa: PLC0415

    mapping = AddressMapping.objects.filter(workspace=workspace, role="phone").select_related("attribute").first()
    profile = Entity.objects.filter(workspace=workspace, is_profile=True).first()
    if mapping is None or profile is None:
        return []
    pk = profile.attributes.get(is_primary_key=True)
    query = sql.SQL("SELECT {pk}::text FROM {t} WHERE regexp_replace({c}, '[^0-9+]', '', 'g') = %s").format(
        pk=ddl.column(pk), t=ddl.table(profile), c=ddl.column(mapping.attribute))
    with connection.cursor() as cursor:
        cursor.execute(render_sql(query), [phone])
        return [r[0] for r in cursor.fetchall()]
