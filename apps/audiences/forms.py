"""Forms of the audience screens. They shape input; the services validate names, rules
and files. (The rule builder's inputs are read by views/_rules.py: they are named after
the node they belong to.)"""

from __future__ import annotations

from django import forms

from apps.datamodel.forms import DELIMITERS, ENCODINGS

from .models import AudienceOrigin

NAME_ATTRS = {"autocomplete": "off", "maxlength": "200"}


class AudienceSaveForm(forms.Form):
    """The name and description saved with a rule."""

    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs=NAME_ATTRS))
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class RenameForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs=NAME_ATTRS))
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class SnapshotForm(forms.Form):
    name = forms.CharField(label="Name of the snapshot", max_length=200,
                           widget=forms.TextInput(attrs=NAME_ATTRS))


class UploadListForm(forms.Form):
    name = forms.CharField(max_length=200, widget=forms.TextInput(attrs=NAME_ATTRS))
    entity = forms.ChoiceField(label="The keys are of")
    file = forms.FileField(label="CSV file", help_text="One key per line, under a header line.")
    column = forms.CharField(label="Key column", required=False, max_length=200,
                             help_text="The column that holds the keys, when the file has several and none is "
                                       "named like the key.", widget=forms.TextInput(attrs={"autocomplete": "off"}))
    delimiter = forms.ChoiceField(choices=DELIMITERS, initial=",")
    encoding = forms.ChoiceField(choices=ENCODINGS, initial="utf-8")

    def __init__(self, *args, entities, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["entity"].choices = [(e.key, f"{e.label} ({e.key})") for e in entities]

    def clean_delimiter(self) -> str:
        value = self.cleaned_data["delimiter"]
        return "\t" if value == "tab" else value


class ExportForm(forms.Form):
    attributes = forms.MultipleChoiceField(label="Columns", required=False, widget=forms.CheckboxSelectMultiple,
                                           help_text="None chosen: every attribute.")

    def __init__(self, *args, attributes, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attributes"].choices = [(a.key, a.label or a.key) for a in attributes]


class FilterForm(forms.Form):
    entity = forms.ChoiceField(required=False)
    origin = forms.ChoiceField(required=False, choices=[("", "Any origin")] + list(AudienceOrigin.choices))

    def __init__(self, *args, entities, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["entity"].choices = [("", "Any entity")] + [(e.key, e.label) for e in entities]
