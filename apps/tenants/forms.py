import zoneinfo

from django import forms

from .models import Workspace
from .roles import WorkspaceRole


class MemberAddForm(forms.Form):
    email = forms.EmailField(label="Email address")
    role = forms.ChoiceField(choices=WorkspaceRole.choices, initial=WorkspaceRole.MARKETER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=WorkspaceRole.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Who or what uses it, e.g. 'CRM sync'.")
    role = forms.ChoiceField(choices=WorkspaceRole.choices, initial=WorkspaceRole.MARKETER)
    expires_at = forms.DateTimeField(
        required=False, label="Expires at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="In the workspace's time zone.",
    )


TIME_ZONE_CHOICES = [(zone, zone) for zone in sorted(zoneinfo.available_timezones())]


class WorkspaceSettingsForm(forms.ModelForm):
    class Meta:
        model = Workspace
        fields = ["name", "time_zone", "default_language", "sender_name", "sender_email", "reply_to_email",
                  "brand_color", "public_url"]
        # A list to pick from; the model's validator still rejects a posted unknown zone.
        widgets = {"time_zone": forms.Select(choices=TIME_ZONE_CHOICES),
                   "brand_color": forms.TextInput(attrs={"type": "color"})}
        help_texts = {"time_zone": "Schedules and the times shown in this workspace use it.",
                      "brand_color": "On the unsubscribe and preference pages and the reports."}

    brand_logo_upload = forms.FileField(required=False, label="Logo",
                                        help_text="PNG, JPEG, GIF or WebP, up to 1 MB; shown at most 600x200.")
    brand_logo_clear = forms.BooleanField(required=False, label="Remove the logo")


class InvitationAcceptForm(forms.Form):
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150, required=False)
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput)
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput)

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return data


class WorkspaceCreateForm(forms.ModelForm):
    """A new client workspace with the client's defaults."""

    class Meta:
        model = Workspace
        fields = ["name", "slug", "time_zone", "default_language", "sender_name", "sender_email", "reply_to_email",
                  "brand_color", "public_url"]
        widgets = {"time_zone": forms.Select(choices=TIME_ZONE_CHOICES),
                   "brand_color": forms.TextInput(attrs={"type": "color"})}
        help_texts = {"slug": "In the workspace's addresses: /w/<slug>/. Lowercase letters, digits and hyphens.",
                      "time_zone": "Schedules and the times shown in this workspace use it."}


class WorkspaceRenameForm(forms.Form):
    name = forms.CharField(max_length=200)


class AgencyInviteForm(forms.Form):
    email = forms.EmailField(label="Email address")
    workspace = forms.ChoiceField(label="Workspace")
    role = forms.ChoiceField(choices=WorkspaceRole.choices, initial=WorkspaceRole.MARKETER)

    def __init__(self, *args, workspaces=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["workspace"].choices = [(w.slug, w.name) for w in workspaces]
