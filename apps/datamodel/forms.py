"""Forms of the data model editor, the data browser and the upload screen. They only
shape input; the services validate identifiers, types and data."""

from __future__ import annotations

from typing import Any

from django import forms

from .ingestion.header import DATE_FORMATS
from .models import AddressRole, AttributeType, Entity, IngestionMode, RelationshipKind

PK_TYPES = [("integer", "Integer"), ("text", "Text"), ("email", "Email address"), ("phone", "Phone number")]
KEY_HELP = "Lowercase letters, digits and _, starting with a letter."


def split_values(text: str) -> list[str]:
    """Enum values typed as "a, b, c" (or one per line)."""
    return [v.strip() for v in text.replace("\n", ",").split(",") if v.strip()]


class EntityCreateForm(forms.Form):
    key = forms.CharField(max_length=63, help_text=KEY_HELP + " E.g. store.",
                          widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    label = forms.CharField(max_length=200, required=False)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    pk_key = forms.CharField(label="Primary key", max_length=63, initial="id",
                             widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    pk_type = forms.ChoiceField(label="Primary key type", choices=PK_TYPES, initial="integer")


class AttributeForm(forms.Form):
    """One attribute: a row of the new-entity form, or the add-attribute form."""

    key = forms.CharField(max_length=63, widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))
    label = forms.CharField(max_length=200, required=False)
    type = forms.ChoiceField(choices=AttributeType.choices, initial=AttributeType.TEXT)
    required = forms.BooleanField(required=False)
    enum_values = forms.CharField(label="Allowed values", required=False,
                                  help_text="Enum only: comma-separated, e.g. gold, silver.")

    def spec(self) -> dict[str, Any]:
        data = self.cleaned_data
        spec: dict[str, Any] = {"key": data["key"].strip(), "type": data["type"], "required": data["required"]}
        if data.get("label"):
            spec["label"] = data["label"]
        if data.get("enum_values"):
            spec["enum_values"] = split_values(data["enum_values"])
        return spec


AttributeFormSet = forms.formset_factory(AttributeForm, extra=4, max_num=50, validate_max=True)


class AttributeEditForm(forms.Form):
    label = forms.CharField(max_length=200)
    type = forms.ChoiceField(choices=AttributeType.choices)
    required = forms.BooleanField(required=False)
    enum_values = forms.CharField(label="Allowed values", required=False,
                                  help_text="Enum only: comma-separated.")


class ConfirmForm(forms.Form):
    confirm = forms.CharField(required=False, widget=forms.TextInput(attrs={"autocomplete": "off",
                                                                           "spellcheck": "false"}))


class EntitySettingsForm(forms.Form):
    label = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    display_attribute = forms.ChoiceField(
        label="Records are named by", required=False,
        help_text="The attribute shown as a record's title. Automatic: name, first and last name, title or email.")

    def __init__(self, *args, entity: Entity | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        attributes = list(entity.attributes.all()) if entity is not None else []
        self.fields["display_attribute"].choices = [("", "Automatic")] + [
            (a.key, f"{a.label} ({a.key})") for a in attributes]


class RelationshipForm(forms.Form):
    column = forms.ChoiceField(label="Link column", help_text="The column that holds the other entity's key.")
    target = forms.ChoiceField(label="Points to")
    key = forms.CharField(label="Name from the source", max_length=63,
                          help_text="e.g. booking.customer", widget=forms.TextInput(attrs={"autocomplete": "off"}))
    reverse_key = forms.CharField(label="Name from the target", max_length=63,
                                  help_text="e.g. customer.bookings", widget=forms.TextInput(attrs={"autocomplete": "off"}))
    kind = forms.ChoiceField(choices=RelationshipKind.choices, initial=RelationshipKind.MANY_TO_ONE)

    def __init__(self, *args, entities: list[Entity], **kwargs):
        super().__init__(*args, **kwargs)
        groups = []
        for entity in entities:
            options = [(f"{entity.key}.{a.key}", f"{entity.key}.{a.key} ({a.type})")
                       for a in entity.attributes.all() if not a.is_primary_key]
            if options:
                groups.append((entity.label, options))
        self.fields["column"].choices = [("", "Choose a column")] + groups
        self.fields["target"].choices = [("", "Choose an entity")] + [(e.key, f"{e.label} ({e.key})") for e in entities]


class ProfileForm(forms.Form):
    entity = forms.ChoiceField(label="Profile dimension", required=False,
                               help_text="The people messages go to. Changing it clears the address mapping.")

    def __init__(self, *args, entities: list[Entity], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["entity"].choices = [("", "None")] + [(e.key, f"{e.label} ({e.key})") for e in entities]


ROLE_TYPES = {"email": ("email", "text"), "phone": ("phone", "text")}


class AddressMappingForm(forms.Form):
    """One select per address role, listing the profile's attributes that may hold it."""

    def __init__(self, *args, profile: Entity, current: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        attributes = list(profile.attributes.all())
        for role in AddressRole:
            allowed = ROLE_TYPES.get(role.value)
            choices = [("", "—")] + [(a.key, f"{a.key} ({a.type})") for a in attributes
                                     if allowed is None or a.type in allowed]
            self.fields[role.value] = forms.ChoiceField(label=role.label, choices=choices, required=False,
                                                        initial=current.get(role.value, ""))

    def mapping(self) -> dict[str, str | None]:
        return {role: (self.cleaned_data.get(role) or None) for role in AddressRole.values}


DELIMITERS = [(",", "Comma  ,"), (";", "Semicolon  ;"), ("|", "Pipe  |"), ("tab", "Tab")]
ENCODINGS = [("utf-8", "UTF-8 (with or without BOM)"), ("latin-1", "Latin-1 (ISO-8859-1)"),
             ("windows-1252", "Windows-1252")]
DATE_FORMAT_CHOICES = [("", "ISO (YYYY-MM-DD)")] + [(f, f) for f in DATE_FORMATS if f != "YYYY-MM-DD"]


class UploadForm(forms.Form):
    """A CSV file for one entity, with per-attribute column names (when the file's header
    differs from the attribute) and date formats."""

    file = forms.FileField(label="CSV file", help_text="The first line names the columns. "
                                                       "A _change column with d deletes that row.")
    mode = forms.ChoiceField(choices=IngestionMode.choices, initial=IngestionMode.REJECT, widget=forms.RadioSelect)
    max_errors = forms.IntegerField(label="Skip at most", min_value=0, max_value=10_000_000, initial=100,
                                    help_text="bad rows (skip mode); past that, nothing is written.")
    delimiter = forms.ChoiceField(choices=DELIMITERS, initial=",")
    encoding = forms.ChoiceField(choices=ENCODINGS, initial="utf-8")
    ignore = forms.CharField(label="Columns to ignore", required=False,
                             help_text="Headers in the file that are not attributes, comma-separated.")

    def __init__(self, *args, entity: Entity, **kwargs):
        super().__init__(*args, **kwargs)
        self.entity = entity
        self.attribute_rows: list[dict[str, Any]] = []
        for attribute in entity.attributes.all():
            # The rows are a table: the widgets carry their label themselves.
            header = forms.CharField(required=False, max_length=200, label=f"Column for {attribute.key}",
                                     widget=forms.TextInput(attrs={
                                         "placeholder": attribute.key, "autocomplete": "off",
                                         "aria-label": f"Column in the file for {attribute.key}"}))
            self.fields[f"header__{attribute.key}"] = header
            row = {"attribute": attribute, "header": f"header__{attribute.key}", "format": None}
            if attribute.type in ("date", "datetime"):
                self.fields[f"format__{attribute.key}"] = forms.ChoiceField(
                    required=False, choices=DATE_FORMAT_CHOICES, label=f"Date format of {attribute.key}",
                    widget=forms.Select(attrs={"aria-label": f"Date format of {attribute.key}"}))
                row["format"] = f"format__{attribute.key}"
            self.attribute_rows.append(row)

    def rows(self) -> list[dict[str, Any]]:
        """The mapping rows with their bound fields, for the template."""
        return [{"attribute": r["attribute"], "header": self[r["header"]],
                 "format": self[r["format"]] if r["format"] else None} for r in self.attribute_rows]

    def clean(self):
        data = super().clean()
        headers: dict[str, str] = {}
        for row in self.attribute_rows:
            header = (data.get(row["header"]) or "").strip()
            if not header:
                continue
            if header in headers:
                self.add_error(row["header"], f"The column {header!r} is already mapped to {headers[header]}.")
            headers[header] = row["attribute"].key
        return data

    def mapping(self) -> dict[str, str | None]:
        """File header -> attribute key (None: ignore the column)."""
        mapping: dict[str, str | None] = {h.strip(): None for h in self.cleaned_data.get("ignore", "").split(",")
                                          if h.strip()}
        for row in self.attribute_rows:
            header = (self.cleaned_data.get(row["header"]) or "").strip()
            if header:
                mapping[header] = row["attribute"].key
        return mapping

    def date_formats(self) -> dict[str, str]:
        return {row["attribute"].key: self.cleaned_data[row["format"]] for row in self.attribute_rows
                if row["format"] and self.cleaned_data.get(row["format"])}


class ModelImportForm(forms.Form):
    file = forms.FileField(label="Model file (JSON)", required=False)
    document = forms.CharField(label="…or paste the JSON", required=False,
                               widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}))

    def clean(self):
        data = super().clean()
        if not data.get("file") and not (data.get("document") or "").strip():
            raise forms.ValidationError("Choose a JSON file or paste a model document.")
        return data
