from django import forms

from .models import Weekday


class SubscriptionForm(forms.Form):
    recipients = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000,
                                 help_text="Up to 10 addresses, separated by commas or lines.")
    weekday = forms.TypedChoiceField(choices=Weekday.choices, coerce=int, initial=Weekday.MONDAY)
    hour = forms.TypedChoiceField(choices=[(h, f"{h:02d}:00") for h in range(24)], coerce=int, initial=8,
                                  help_text="In the workspace's time zone.")
