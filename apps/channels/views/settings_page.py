"""The one flow of the channel settings pages (email, SMS, push): show the saved
configuration in a form, save it through the channel's service (its ValidationError lands
on the fields), and send a test message through the saved configuration (an htmx fragment,
or a flash and the page without JavaScript; 429 with Retry-After past the budget of proof
and test messages). Each page declares a `Screen`; its template extends
channels/_settings_base.html."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from apps.core.htmx import add_errors
from apps.core.net import client_ip
from apps.tenants.decorators import is_admin

from .. import selectors
from ..proof_limits import ProofRateLimited


def secret_hint(config) -> str:
    if config is None or not config.secret_encrypted:
        return ""
    try:
        return config.secret_hint
    except ValueError:
        return "(stored, but it cannot be decrypted with this server's key: enter it again)"


@dataclass(frozen=True)
class Screen:
    channel: str  # "email", "sms", "push": the ChannelConfig row and the ids of the page ("<channel>-test")
    template: str
    url_name: str
    test_url_name: str
    form: type  # initial_for(config) -> initial; save_arguments() -> the save service's keyword arguments
    save: Callable[..., Any]  # save(workspace=, actor=, ip_address=, **save_arguments)
    saved: str  # the flash once saved
    test_form: type
    test_field: str  # the test form's field errors are reported on
    test: Callable[[Any, dict[str, Any]], str]  # test(request, cleaned_data) -> what it went through
    sent: Callable[[dict[str, Any], str], str]  # the flash of a sent test (cleaned_data, via)
    error_fields: Mapping[str, str] = field(default_factory=dict)  # service field -> form field
    extra: Callable[[Any, Any], dict[str, Any]] | None = None  # more context: extra(request, config)
    files: bool = False  # the form takes uploads


def _config(screen: Screen, request):
    return selectors.channel_config(workspace=request.workspace, channel=screen.channel)


def page(screen: Screen, request, form=None, test_form=None, status: int = 200):
    config = _config(screen, request)
    test_form = test_form or screen.test_form(**_test_form_kwargs(screen, request))
    context = {"form": form or screen.form(initial=screen.form.initial_for(config)), "config": config,
               "secret_hint": secret_hint(config), "test_form": test_form, "screen": screen,
               "can_write": is_admin(request)}
    if screen.extra is not None:
        context.update(screen.extra(request, config))
    return render(request, screen.template, context, status=status)


def _test_form_kwargs(screen: Screen, request) -> dict[str, Any]:
    # A test form may list the workspace's things (the push page's devices).
    return {"workspace": request.workspace} if getattr(screen.test_form, "per_workspace", False) else {}


def edit(screen: Screen, request):
    """GET: the page. POST: save, then back to the page with a flash; 422 with the errors."""
    if request.method != "POST":
        return page(screen, request)
    form = screen.form(request.POST, request.FILES) if screen.files else screen.form(request.POST)
    if form.is_valid():
        try:
            screen.save(workspace=request.workspace, actor=request.user, ip_address=client_ip(request),
                        **form.save_arguments())
        except ValidationError as exc:
            add_errors(form, exc, fields=screen.error_fields)
        else:
            messages.success(request, screen.saved)
            return redirect(screen.url_name, workspace_slug=request.workspace.slug)
    return page(screen, request, form, status=422)


def test(screen: Screen, request):
    """One test message through the saved configuration; the service's answer when it fails."""
    form = screen.test_form(request.POST, **_test_form_kwargs(screen, request))
    context: dict[str, Any] = {"test_form": form, "screen": screen}
    limited = None
    if form.is_valid():
        try:
            context["test_via"] = screen.test(request, form.cleaned_data)
        except ProofRateLimited as exc:
            context["test_error"], limited = exc.message, exc.retry_after
        except ValidationError as exc:
            context["test_error"] = " ".join(exc.message_dict.get(screen.test_field, exc.messages)) \
                if hasattr(exc, "error_dict") else " ".join(exc.messages)
    if "test_via" in context:
        context["test_sent"] = screen.sent(form.cleaned_data, context["test_via"])
    status = 429 if limited is not None else 200
    if request.htmx:
        response = render(request, "channels/_settings_test.html", context, status=status)
    elif limited is not None:
        messages.error(request, context["test_error"])
        response = page(screen, request, test_form=form, status=429)
    else:
        if "test_sent" in context:
            messages.success(request, context["test_sent"])
        else:
            errors = form.errors.get(screen.test_field) if form.errors else None
            messages.error(request, context.get("test_error") or " ".join(errors or ["Check the test form."]))
        response = redirect(screen.url_name, workspace_slug=request.workspace.slug)
    if limited is not None:
        response["Retry-After"] = str(limited)
    return response
