"""Forms of the push settings page: the options and uploaded keys (checked by
push_config.push_config_save), new VAPID keys, and a test push to one device."""

from __future__ import annotations

from typing import Any

from django import forms

from . import devices, push_config

UPLOAD_MAX = 64 * 1024  # a service account's JSON is ~2.4 KB, a .p8 key ~250 bytes
TEST_DEVICES = 100  # the test list shows the most recently seen devices


def _text_of(upload, field: str) -> str:
    if upload.size > UPLOAD_MAX:
        raise forms.ValidationError(f"the file is larger than {UPLOAD_MAX // 1024} KB: not a {field}")
    try:
        return upload.read().decode("utf-8")
    except UnicodeDecodeError:
        raise forms.ValidationError(f"not a text file: the {field} is UTF-8 text") from None


class PushConfigForm(forms.Form):
    vapid_subject = forms.CharField(required=False, max_length=300, label="VAPID subject",
                                    help_text="mailto:ops@example.com or an https URL the push services may contact")
    web_origins = forms.CharField(required=False, label="Allowed website origins",
                                  widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
                                  help_text="One a line, e.g. https://www.example.com: the sites whose pages may "
                                            "register browsers.")
    fcm_service_account = forms.FileField(required=False, label="FCM service account (JSON key file)",
                                          help_text="Leave empty to keep the stored one.")
    clear_fcm = forms.BooleanField(required=False, label="Remove the stored service account")
    fcm_base_url = forms.CharField(required=False, max_length=300, label="FCM base URL",
                                   help_text=f"Empty: {push_config.FCM_BASE_URL}")
    apns_key = forms.FileField(required=False, label="APNs auth key (.p8 file)",
                               help_text="Leave empty to keep the stored one.")
    clear_apns = forms.BooleanField(required=False, label="Remove the stored APNs key")
    apns_key_id = forms.CharField(required=False, max_length=10, label="Key id")
    apns_team_id = forms.CharField(required=False, max_length=10, label="Team id")
    apns_topic = forms.CharField(required=False, max_length=200, label="Topic (bundle id)")
    apns_environment = forms.ChoiceField(choices=[("production", "Production"), ("sandbox", "Sandbox (development)")],
                                         initial="production", widget=forms.RadioSelect, label="APNs environment")
    apns_base_url = forms.CharField(required=False, max_length=300, label="APNs base URL",
                                    help_text="Empty: Apple's server of the environment chosen above")

    @classmethod
    def initial_for(cls, config) -> dict[str, Any]:
        options = push_config.push_config_view(config)["options"]
        apns_url = options.get("apns_base_url") or ""
        return {**options, "web_origins": "\n".join(options.get("web_origins") or []),
                "apns_environment": "sandbox" if apns_url == push_config.APNS_SANDBOX_URL else "production",
                "apns_base_url": "" if apns_url in (push_config.APNS_SANDBOX_URL, push_config.APNS_BASE_URL)
                else apns_url}

    def clean_fcm_service_account(self) -> str | None:
        upload = self.cleaned_data.get("fcm_service_account")
        return _text_of(upload, "service account's JSON key file") if upload else None

    def clean_apns_key(self) -> str | None:
        upload = self.cleaned_data.get("apns_key")
        return _text_of(upload, ".p8 key") if upload else None

    def save_arguments(self) -> dict[str, Any]:
        """The keyword arguments of push_config.push_config_save."""
        data = self.cleaned_data
        apns_url = data.get("apns_base_url") or (
            push_config.APNS_SANDBOX_URL if data.get("apns_environment") == "sandbox" else "")
        options = {name: data.get(name) or "" for name in ("vapid_subject", "fcm_base_url", "apns_key_id",
                                                          "apns_team_id", "apns_topic")}
        clear = [name for flag, name in (("clear_fcm", "fcm_service_account"), ("clear_apns", "apns_key"))
                 if data.get(flag)]
        return {"options": {**options, "apns_base_url": apns_url, "web_origins": data.get("web_origins") or ""},
                "fcm_service_account": data.get("fcm_service_account"), "apns_key": data.get("apns_key"),
                "clear": clear}


class PushKeysForm(forms.Form):
    confirm = forms.BooleanField(required=False, label="I understand: browsers subscribed with the current key stop "
                                                       "getting push until they subscribe again")


class PushTestForm(forms.Form):
    per_workspace = True  # settings_page passes the workspace: the choices are its devices
    device = forms.TypedChoiceField(coerce=int, label="Send a test push to")

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        subs = devices.push_subscription_list(workspace=workspace, active=True)[:TEST_DEVICES]
        self.fields["device"].choices = [
            (sub.pk, f"{sub.get_platform_display()} · {sub.profile_key[:40]} · {devices.masked(sub)}") for sub in subs]
