"""Forms of the template editor, the email configuration page, and the side panel of
channel activities on the campaign canvas."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.urls import reverse
from django.utils.html import format_html

from apps.campaigns.forms import SettingsForm
from apps.core.inputs import InputRejected, json_loads_checked

from . import blocks as blocks_mod
from .configuration import PAGE_SIZES
from .content_forms import (
    PushExtraMixin,
    data_row_count,
    push_extra_content,
    push_extra_fields,
    push_extra_initial,
)
from .models import ChannelKind

EDITABLE_CHANNELS = [(ChannelKind.EMAIL, "Email"), (ChannelKind.SMS, "SMS"), (ChannelKind.PUSH, "Push"),
                     (ChannelKind.DIRECT_MAIL, "Direct mail")]
CODE = {"spellcheck": "false", "class": "code-input"}
EMAIL_FIELDS = ("subject", "preheader", "html", "text", "from_name", "from_email", "reply_to")
DIRECT_MAIL_FIELDS = ("html", "css", "page_size", "return_address")
# The editor's field of each content key of SMS and push ("text" is email's plain text there).
SMS_NAMES = {"text": "sms_text"}
PUSH_NAMES = {"title": "title", "text": "push_text", "url": "url", "image_url": "image_url", "ttl": "ttl",
              "collapse_key": "collapse_key"}


def _text(label: str, rows: int = 0, help_text: str = "", required: bool = False, code: bool = False,
          max_length: int | None = None) -> forms.CharField:
    attrs = dict(CODE) if code else {}
    widget = forms.Textarea(attrs={"rows": rows, **attrs}) if rows else forms.TextInput(attrs=attrs)
    return forms.CharField(label=label, required=required, help_text=help_text, widget=widget, strip=False,
                           max_length=max_length)


class TemplateForm(PushExtraMixin, forms.Form):
    """Every field of every channel; the page shows those of the chosen channel."""

    name = forms.CharField(max_length=200)
    channel = forms.ChoiceField(choices=EDITABLE_CHANNELS)
    entity_key = forms.ChoiceField(label="Written for", required=False,
                                   help_text="The entity `target` is (one message per booking...); the profile "
                                             "dimension when empty.")
    subject = _text("Subject", help_text='e.g. Hello {{ profile.first_name|default("traveller") }}')
    preheader = _text("Preheader", help_text="The line mail apps show after the subject.")
    html = _text("HTML body", rows=14, code=True)
    text = _text("Plain text", rows=6, code=True, help_text="Generated from the HTML unless written.")
    from_name = _text("Sender name", help_text="Empty: the email configuration's or the workspace's.")
    from_email = forms.EmailField(label="Sender address", required=False)
    reply_to = forms.EmailField(label="Reply-to", required=False)
    css = _text("Print CSS", rows=6, code=True)
    page_size = forms.ChoiceField(choices=[(s, s) for s in PAGE_SIZES], required=False, initial="A4")
    return_address = _text("Return address", rows=3, help_text="Printed above the recipient in the window.")
    sms_text = _text("Message", rows=5, code=True, help_text="Personalization as in email: {{ profile.first_name }}.")
    title = _text("Title", help_text="One line, e.g. Your trip to {{ target.destination }}")
    push_text = _text("Body", rows=3, code=True)
    url = _text("Link", help_text="Opened when the notification is tapped: a web page or the app's deep link.")
    image_url = _text("Image URL", help_text="A large picture under the text (Android, web; iOS with an extension).")
    ttl = _text("Time to live (s)", help_text="Devices offline longer do not get it. Empty: one day.")
    collapse_key = _text("Collapse key", help_text="A newer message with the same key replaces an undelivered one.")
    # The visual editor (static/email-blocks/): its block document as JSON, and which editor
    # the template is written in ("visual" compiles the blocks to the HTML body on save).
    editor = forms.ChoiceField(choices=[("html", "HTML"), ("visual", "Visual")], required=False,
                               widget=forms.HiddenInput)
    blocks = forms.CharField(required=False, strip=False, widget=forms.HiddenInput,
                             max_length=blocks_mod.DOC_MAX_BYTES)

    def __init__(self, *args, entities=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["entity_key"].choices = [("", "— the profile dimension —")] + [
            (e.key, e.name if hasattr(e, "name") and e.name else e.key) for e in entities]
        self.data_rows = data_row_count(self.initial, self.data if self.is_bound else None)
        self.fields.update(push_extra_fields(self.data_rows))

    @classmethod
    def initial_for(cls, template) -> dict[str, Any]:
        content = dict(template.content or {})
        initial = {"name": template.name, "channel": template.channel, "entity_key": template.entity_key}
        if template.channel == ChannelKind.SMS:
            return {**initial, "sms_text": content.get("text", "")}
        if template.channel == ChannelKind.PUSH:
            return {**initial, "data": content.get("data"), **push_extra_initial(content),
                    **{name: content.get(key, "") for key, name in PUSH_NAMES.items()}}
        if template.channel == ChannelKind.EMAIL and content.get("blocks") is not None:
            return {**initial, **content, "editor": "visual", "blocks": json.dumps(content["blocks"])}
        return {**initial, **content}


def posted_content(channel: str, post, before: dict[str, Any] | None = None, prefix: str = "") -> dict[str, Any]:
    """The editor's content of `channel` as posted (empty fields left out); `before`, the
    saved content, keeps what the editor does not show (push override links...). With a
    prefix (the canvas panel's "cfg-"), the fields are named like the content keys."""
    if prefix:
        keys = PUSH_NAMES if channel == ChannelKind.PUSH else SMS_NAMES
        names = {key: prefix + key for key in keys}
    elif channel == ChannelKind.SMS:
        names = SMS_NAMES
    elif channel == ChannelKind.PUSH:
        names = PUSH_NAMES
    else:
        fields = DIRECT_MAIL_FIELDS if channel == ChannelKind.DIRECT_MAIL else EMAIL_FIELDS
        names = {name: name for name in fields}
    content: dict[str, Any] = {key: post.get(name, "") for key, name in names.items() if post.get(name, "")}
    if channel == ChannelKind.PUSH:
        content.update(push_extra_content(post.get, prefix, before=before))
    if channel == ChannelKind.EMAIL and not prefix and post.get("editor") == "visual":
        content.update(visual_content(post.get("blocks", "")))
    return content


def visual_content(posted: str) -> dict[str, Any]:
    """The visual editor's fields: the document, and its compiled HTML when it holds
    (when it does not, the check lists the document's problems and there is no body)."""
    try:
        doc = json.loads(posted) if len(posted) <= blocks_mod.DOC_MAX_BYTES else posted
    except ValueError:
        doc = posted
    try:
        return {"blocks": doc, "html": blocks_mod.compile_blocks(doc)}
    except blocks_mod.BlocksError:
        return {"blocks": doc, "html": ""}


class PreviewForm(forms.Form):
    key = forms.CharField(required=False, label="Record key", help_text="Empty: one at random.")


class ProofForm(forms.Form):
    addresses = forms.CharField(label="Test addresses", help_text="Comma-separated, up to 20.")
    key = forms.CharField(required=False, label="Record key", help_text="Empty: the first record.")

    def address_list(self) -> list[str]:
        return [a.strip() for a in self.cleaned_data["addresses"].replace(";", ",").split(",") if a.strip()]


class EmailConfigForm(forms.Form):
    backend = forms.ChoiceField(choices=[("smtp", "SMTP server"), ("anymail", "Email service (django-anymail)")],
                                widget=forms.RadioSelect)
    host = forms.CharField(required=False, label="SMTP host")
    port = forms.IntegerField(required=False, min_value=1, max_value=65535, initial=587)
    username = forms.CharField(required=False)
    security = forms.ChoiceField(choices=[("starttls", "STARTTLS"), ("ssl", "SSL/TLS"), ("none", "None")],
                                 initial="starttls", label="Security")
    timeout = forms.FloatField(required=False, min_value=1, max_value=300, initial=30, label="Timeout (s)")
    esp = forms.CharField(required=False, label="Email service", help_text="e.g. mailgun, sendgrid, postmark, "
                                                                          "amazon_ses")
    esp_options = forms.CharField(required=False, label="Service options (JSON)",
                                  widget=forms.Textarea(attrs={"rows": 3, **CODE}),
                                  help_text='Non-secret options, e.g. {"sender_domain": "mg.example.com"}.')
    secret = forms.CharField(required=False, label="Password or API key", strip=False,
                             widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                             help_text="Leave empty to keep the stored one.")
    clear_secret = forms.BooleanField(required=False, label="Remove the stored password or key")
    from_name = forms.CharField(required=False, max_length=200, label="Sender name")
    from_email = forms.EmailField(required=False, label="Sender address")
    reply_to = forms.EmailField(required=False, label="Reply-to")
    tracking_domain = forms.URLField(required=False, max_length=200, label="Tracking base URL", assume_scheme="https",
                                     help_text="Public URL for open and click tracking, e.g. https://t.example.com")
    rate_per_second = forms.FloatField(required=False, min_value=0.01, label="Messages per second",
                                       help_text="Empty: as fast as the server takes them.")
    window_hours = forms.IntegerField(min_value=1, max_value=24 * 14, initial=12, label="Sending window (hours)")
    max_attempts = forms.IntegerField(min_value=1, max_value=20, initial=5, label="Attempts per message")
    chunk_size = forms.IntegerField(min_value=1, max_value=5000, initial=200, label="Messages per chunk")
    parallel_tasks = forms.IntegerField(min_value=1, max_value=32, initial=2, label="Parallel tasks")

    @classmethod
    def initial_for(cls, config) -> dict[str, Any]:
        if config is None:
            return {"backend": "smtp"}
        options = dict(config.options or {})
        security = "ssl" if options.get("use_ssl") else "starttls" if options.get("use_tls") else "none"
        extra = {k: v for k, v in options.items() if k not in ("esp", "host", "port", "username", "use_tls",
                                                               "use_ssl", "timeout")}
        return {"backend": config.backend, "host": options.get("host", ""), "port": options.get("port"),
                "username": options.get("username", ""), "security": security, "timeout": options.get("timeout"),
                "esp": options.get("esp", ""), "esp_options": json.dumps(extra) if extra else "",
                **{f: getattr(config, f) for f in ("from_name", "from_email", "reply_to", "tracking_domain",
                                                   "rate_per_second", "window_hours", "max_attempts", "chunk_size",
                                                   "parallel_tasks")}}

    def clean_esp_options(self):
        raw = (self.cleaned_data.get("esp_options") or "").strip()
        if not raw:
            return {}
        try:
            value = json_loads_checked(raw)
        except InputRejected as exc:
            raise forms.ValidationError(exc.message) from None
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"This is not JSON: {exc}.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError('Options are an object: {"name": "value"}.')
        return value

    def save_arguments(self) -> dict[str, Any]:
        """The keyword arguments of configuration.channel_config_save."""
        data = self.cleaned_data
        if data["backend"] == "smtp":
            options = {"host": data.get("host") or "", "port": data.get("port"), "username": data.get("username"),
                       "use_tls": data["security"] == "starttls", "use_ssl": data["security"] == "ssl",
                       "timeout": data.get("timeout") or 30}
        else:
            options = {"esp": data.get("esp") or "", **(data.get("esp_options") or {})}
        return {"backend": data["backend"], "options": options, "secret": data.get("secret") or None,
                "clear_secret": data.get("clear_secret", False),
                **{f: data.get(f) for f in ("from_name", "from_email", "reply_to", "tracking_domain",
                                            "rate_per_second", "window_hours", "max_attempts", "chunk_size",
                                            "parallel_tasks")}}


class TestSendForm(forms.Form):
    address = forms.EmailField(label="Send a test email to")


class SmsConfigForm(forms.Form):
    """The SMS settings page; apps/channels/smsconfig.py checks the options."""

    backend = forms.ChoiceField(choices=[("twilio", "Twilio"), ("vonage", "Vonage")], widget=forms.RadioSelect)
    account = forms.CharField(required=False, label="Account SID (Twilio) or API key (Vonage)")
    secret = forms.CharField(required=False, label="Auth token (Twilio) or API secret (Vonage)", strip=False,
                             widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                             help_text="Leave empty to keep the stored one.")
    clear_secret = forms.BooleanField(required=False, label="Remove the stored token or secret")
    sender_kind = forms.ChoiceField(choices=[("number", "Phone number"), ("messaging_service",
                                                                         "Messaging service (Twilio)"),
                                             ("alphanumeric", "Alphanumeric sender id")], label="Sender type")
    sender = forms.CharField(required=False, label="Sender", help_text="+14155550100, MG..., or e.g. TRAVEL")
    base_url = forms.CharField(required=False, label="API base URL",
                               help_text="Empty: the provider's public API. An on-premise gateway's URL otherwise.")
    status_callback = forms.CharField(required=False, label="Delivery receipt URL",
                                      help_text="Empty: this server's receipt endpoint (shown below).")
    signing_secret = forms.CharField(required=False, label="Signature secret (Vonage)", strip=False, max_length=200,
                                     widget=forms.PasswordInput(render_value=False,
                                                                attrs={"autocomplete": "new-password"}),
                                     help_text="Signs delivery receipts and inbound messages. Leave empty to keep "
                                               "the stored one. Twilio signs with the auth token.")
    clear_signing_secret = forms.BooleanField(required=False, label="Remove the stored signature secret")
    signature_method = forms.ChoiceField(required=False, label="Signature method (Vonage)",
                                         choices=[("", "MD5 hash (Vonage's default)"), ("md5", "HMAC-MD5"),
                                                  ("sha1", "HMAC-SHA1"), ("sha256", "HMAC-SHA256"),
                                                  ("sha512", "HMAC-SHA512")])
    reply_stop = forms.CharField(required=False, max_length=320, label="Reply to STOP",
                                 help_text="Empty: the default. {workspace} is the workspace's name.")
    reply_start = forms.CharField(required=False, max_length=320, label="Reply to START")
    reply_help = forms.CharField(required=False, max_length=320, label="Reply to HELP")
    default_region = forms.CharField(required=False, max_length=2, label="Default country",
                                     help_text="ISO code (GB, US...) for numbers written without +country code")
    price_per_segment = forms.FloatField(required=False, min_value=0, label="Price per segment")
    max_segments = forms.IntegerField(required=False, min_value=1, max_value=10, initial=10,
                                      label="Segments per message at most")
    timeout = forms.FloatField(required=False, min_value=1, max_value=60, initial=15, label="Timeout (s)")
    rate_per_second = forms.FloatField(required=False, min_value=0.01, label="Messages per second (sender)",
                                       help_text="1 for a long code; more for toll-free numbers and short codes.")
    window_hours = forms.IntegerField(min_value=1, max_value=24 * 14, initial=12, label="Sending window (hours)")
    max_attempts = forms.IntegerField(min_value=1, max_value=20, initial=5, label="Attempts per message")
    chunk_size = forms.IntegerField(min_value=1, max_value=5000, initial=200, label="Messages per chunk")
    parallel_tasks = forms.IntegerField(min_value=1, max_value=32, initial=2, label="Parallel tasks")

    OPTIONS = ("account", "sender_kind", "sender", "base_url", "status_callback", "default_region",
               "price_per_segment", "max_segments", "timeout", "signature_method", "reply_stop", "reply_start",
               "reply_help")
    FIELDS = ("rate_per_second", "window_hours", "max_attempts", "chunk_size", "parallel_tasks")

    @classmethod
    def initial_for(cls, config) -> dict[str, Any]:
        if config is None:
            return {"backend": "twilio", "sender_kind": "number"}
        options = config.options or {}
        return {"backend": config.backend, **{k: options.get(k) for k in cls.OPTIONS},
                **{f: getattr(config, f) for f in cls.FIELDS}}

    def save_arguments(self) -> dict[str, Any]:
        """The keyword arguments of smsconfig.sms_config_save."""
        data = self.cleaned_data
        return {"backend": data["backend"], "secret": data.get("secret") or None,
                "clear_secret": data.get("clear_secret", False),
                "signing_secret": data.get("signing_secret") or None,
                "clear_signing_secret": data.get("clear_signing_secret", False),
                "options": {k: data.get(k) for k in self.OPTIONS if data.get(k) not in (None, "")},
                **{f: data.get(f) for f in self.FIELDS}}


class SmsTestForm(forms.Form):
    phone = forms.CharField(label="Send a test SMS to", max_length=40)


# --- the side panel of channel activities on the campaign canvas ---

ACTIVITY_KEYS = ("template_id", "content", "profile_link", "track_opens", "track_clicks", "category", "topic",
                 "rule_set_id", "no_address_outlet")


class ChannelActivityForm(SettingsForm):
    """A saved template, and/or inline fields over it (an inline field wins), the link to
    the profile for one message per related row, and tracking."""

    channel = ChannelKind.EMAIL
    content_fields: tuple[str, ...] = ("subject", "preheader", "html", "text", "from_name", "from_email", "reply_to")

    template = forms.ChoiceField(label="Template", required=False,
                                 help_text="Inline fields below replace the template's.")
    subject = _text("Subject")
    preheader = _text("Preheader")
    html = _text("HTML body", rows=8, code=True)
    text = _text("Plain text", rows=4, code=True, help_text="Generated from the HTML unless written.")
    from_name = _text("Sender name")
    from_email = forms.EmailField(label="Sender address", required=False)
    reply_to = forms.EmailField(label="Reply-to", required=False)
    profile_link = forms.CharField(required=False, label="Profile link",
                                   help_text="For one message per related row (a booking): the link(s) to the "
                                             "recipient, dotted, e.g. customer. Empty: found from the model.")
    track_opens = forms.BooleanField(required=False, label="Track opens")
    track_clicks = forms.BooleanField(required=False, label="Track clicks")
    category = forms.ChoiceField(choices=[("marketing", "Marketing"), ("transactional", "Transactional")],
                                 initial="marketing", label="Category", required=False,
                                 help_text="Transactional messages skip topics and frequency caps, never suppression.")
    topic = forms.ChoiceField(required=False, label="Subscription topic",
                              help_text="Who may get a marketing message: the topic's consent decides.")
    rule_set_id = forms.ChoiceField(required=False, label="Frequency caps")
    no_address_outlet = forms.BooleanField(
        required=False, label="Outlet “No address on this channel”",
        help_text="Those this channel cannot reach (no or invalid address; push: no device) leave by a second "
                  "outlet, e.g. to an SMS.")

    def __init__(self, *args, templates=(), topics=(), rule_sets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = [("", "— none: inline content —")] + [
            (str(t.pk), t.name) for t in templates]
        if self.workspace is not None:
            self.fields["template"].help_text = self._template_links(templates)
        self.fields["topic"].choices = [("", "— none —"), *topics]
        self.fields["rule_set_id"].choices = [("", "— none —"), *rule_sets]

    def _template_links(self, templates):
        """Where a template is written: the visual editor for a new email (a new tab: the
        canvas keeps its draft), the chosen template's own page."""
        slug = self.workspace.slug
        new = reverse("tpl-new", kwargs={"workspace_slug": slug}) + f"?channel={self.channel}"
        words = "Design a new email in the visual editor" if self.channel == ChannelKind.EMAIL else \
            "Write a new template"
        links = format_html('Inline fields below replace the template\'s. <a href="{}" target="_blank" rel="noopener" '
                            'id="panel-new-template">{}</a>', new, words)
        chosen = str((self.node.get("settings") or {}).get("template_id") or "")
        name = next((t.name for t in templates if str(t.pk) == chosen), None)
        if name is not None:
            edit = reverse("tpl-edit", kwargs={"workspace_slug": slug, "pk": int(chosen)})
            links = format_html('{} · <a href="{}" target="_blank" rel="noopener" id="panel-edit-template">'
                                'Edit “{}”</a>', links, edit, name)
        return links

    def initial_from(self, settings):
        content = settings.get("content") if isinstance(settings.get("content"), dict) else {}
        return {"template": str(settings.get("template_id") or ""), "profile_link": settings.get("profile_link", ""),
                "category": settings.get("category") or "marketing", "topic": settings.get("topic") or "",
                "rule_set_id": str(settings.get("rule_set_id") or ""),
                "track_opens": settings.get("track_opens", True), "track_clicks": settings.get("track_clicks", True),
                "no_address_outlet": settings.get("no_address_outlet") is True,
                **{name: content.get(name, "") for name in self.content_fields}}

    def settings(self):
        data = self.cleaned_data
        # Keys this panel does not edit (category, topic, a variable placeholder...) stay.
        # Tracking this panel does not show (SMS, push: track_clicks over the API) stays too.
        edited = [k for k in ACTIVITY_KEYS if k not in ("track_opens", "track_clicks") or k in self.fields]
        result = {k: v for k, v in (self.node.get("settings") or {}).items() if k not in edited}
        if data.get("template"):
            result["template_id"] = int(data["template"])
        content = {name: data[name] for name in self.content_fields if data.get(name)}
        if content:
            result["content"] = content
        if (data.get("profile_link") or "").strip():
            result["profile_link"] = data["profile_link"].strip()
        if "track_opens" in self.fields:
            result["track_opens"] = bool(data.get("track_opens"))
        if "track_clicks" in self.fields:
            result["track_clicks"] = bool(data.get("track_clicks"))
        if data.get("no_address_outlet"):
            result["no_address_outlet"] = True
        if data.get("category") == "transactional":
            result["category"] = "transactional"
        if data.get("topic"):
            result["topic"] = data["topic"]
        if data.get("rule_set_id"):
            result["rule_set_id"] = int(data["rule_set_id"])
        return result


class DirectMailActivityForm(ChannelActivityForm):
    channel = ChannelKind.DIRECT_MAIL
    content_fields = ("html", "css", "page_size", "return_address")

    subject = preheader = text = from_name = from_email = reply_to = None
    track_opens = track_clicks = None
    css = _text("Print CSS", rows=4, code=True)
    page_size = forms.ChoiceField(choices=[("", "—")] + [(s, s) for s in PAGE_SIZES], required=False)
    return_address = _text("Return address", rows=3)

    field_order = ["template", "html", "css", "page_size", "return_address", "profile_link", "category", "topic",
                   "rule_set_id"]


class SmsActivityForm(ChannelActivityForm):
    channel = ChannelKind.SMS
    content_fields = ("text",)

    subject = preheader = html = from_name = from_email = reply_to = None
    track_opens = None
    text = _text("Message", rows=4, code=True, help_text="Personalization as in email: {{ profile.first_name }}.")
    track_clicks = forms.BooleanField(required=False, label="Track clicks",
                                      help_text="Links go through short tracking links on the tracking domain "
                                                "(push: the tap). Off by default for transactional messages.")

    field_order = ["template", "text", "track_clicks", "profile_link", "category", "topic", "rule_set_id"]
    # Drawn by this template instead of the panel's plain field list (campaigns/detail.html).
    panel_template = "channels/_panel_sms.html"

    def initial_from(self, settings):
        initial = super().initial_from(settings)
        # As sending decides when the setting is absent: on for marketing, off for transactional.
        initial["track_clicks"] = settings.get("track_clicks", settings.get("category") != "transactional")
        return initial


class PushActivityForm(PushExtraMixin, SmsActivityForm):
    channel = ChannelKind.PUSH
    content_fields = ("title", "text", "url", "image_url", "ttl", "collapse_key")

    title = _text("Title")
    text = _text("Body", rows=3, code=True, help_text="Personalization as in email: {{ profile.first_name }}.")
    url = _text("Link", help_text="Opened when the notification is tapped: a web page or the app's deep link.")
    image_url = _text("Image URL")
    ttl = forms.IntegerField(required=False, min_value=0, max_value=28 * 24 * 3600, label="Time to live (s)",
                             help_text="Devices offline longer do not get it. Empty: one day.")
    collapse_key = forms.RegexField(regex=r"^[A-Za-z0-9_.\-]{1,64}$", required=False, label="Collapse key",
                                    help_text="A newer message with the same key replaces an undelivered one.")
    push_devices = forms.ChoiceField(choices=[("all", "Every device of the profile"),
                                              ("newest", "The profile's newest device only")],
                                     required=False, initial="all", label="Send to")

    field_order = ["template", "title", "text", "url", "image_url", "ttl", "collapse_key", "push_devices",
                   "track_clicks", "profile_link", "category", "topic", "rule_set_id"]
    panel_template = "channels/_panel_push.html"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        content = (self.node.get("settings") or {}).get("content")
        self.data_rows = data_row_count(content if isinstance(content, dict) else {},
                                        self.data if self.is_bound else None, prefix=self.add_prefix(""))
        self.fields.update(push_extra_fields(self.data_rows))

    def panel_fields(self) -> list:
        return [f for f in super().panel_fields() if not f.name.startswith(("data_", "override_"))]

    def initial_from(self, settings):
        initial = super().initial_from(settings)
        initial["push_devices"] = settings.get("push_devices") or "all"
        content = settings.get("content")
        initial.update(push_extra_initial(content if isinstance(content, dict) else {}))
        return initial

    def settings(self):
        result = super().settings()
        # Content this panel does not edit (an override's link set over the API...) stays; the data
        # payload and the overrides' title and body are the panel's.
        before = (self.node.get("settings") or {}).get("content")
        before = before if isinstance(before, dict) else {}
        kept = {k: v for k, v in before.items() if k not in self.content_fields and k not in ("data", "overrides")}
        extra = push_extra_content(self.cleaned_data.get, before=before)
        content = {**kept, **{k: str(v) for k, v in (result.get("content") or {}).items()}, **extra}
        if content:
            result["content"] = content
        if self.cleaned_data.get("push_devices") == "newest":
            result["push_devices"] = "newest"
        else:
            result.pop("push_devices", None)
        return result


ACTIVITY_FORMS: dict[str, type[ChannelActivityForm]] = {"email": ChannelActivityForm,
                                                        "direct_mail": DirectMailActivityForm,
                                                        "sms": SmsActivityForm, "push": PushActivityForm}


def activity_form(node: dict[str, Any], data=None, *, audiences=(), workspace=None) -> ChannelActivityForm:
    """The side panel of a channel activity (email, SMS, push, direct mail), with the workspace's templates
    of that channel to choose from (campaigns' forms.PanelForm, registered in ChannelsConfig.ready();
    a channel activity chooses no audience)."""
    from . import policy  # noqa: PLC0415
    from .selectors import template_list  # noqa: PLC0415

    cls = ACTIVITY_FORMS[node["type"]]
    if workspace is None:
        return cls(data, node=node, prefix="cfg")
    templates = template_list(workspace=workspace, channel=cls.channel).select_related(None).only("pk", "name")
    choices = policy.current().setting_choices(workspace, cls.channel)
    return cls(data, node=node, templates=templates, prefix="cfg", workspace=workspace,
               topics=choices.get("topic", []),
               rule_sets=choices.get("rule_set_id", []))


class SenderDomainForm(forms.Form):
    domain = forms.CharField(max_length=253, label="Domain", help_text="e.g. example.com",
                             widget=forms.TextInput(attrs={"placeholder": "example.com", "autocomplete": "off"}))
    mailbox = forms.ChoiceField(label="Send the confirmation link to", initial="postmaster",
                                choices=[(m, f"{m}@ the domain") for m in
                                         ("postmaster", "hostmaster", "webmaster", "admin", "administrator")])
