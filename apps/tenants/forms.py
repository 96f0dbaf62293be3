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
        required=False, label="Expires at (optional)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="In the workspace's time zone.",
    )


class WorkspaceSettingsForm(forms.ModelForm):
    class Meta:
        model = Workspace
        fields = ["name", "time_zone", "default_language", "sender_name", "sender_email", "reply_to_email"]


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
