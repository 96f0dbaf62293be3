"""Forms of the campaign screens: a new campaign, and the settings of each activity type
(the side panel of the canvas). A settings form turns its fields into the activity's
settings dict (see activities/core.py) and back. Apps above campaigns give their
activities' panels through register_panel_form() in their AppConfig.ready()."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django import forms

from apps.core.inputs import InputRejected, json_loads_checked

from .activities import REGISTRY

RULE_HELP = 'A rule as JSON, e.g. {"attr": "country", "op": "eq", "value": "NL"}.'


class CampaignCreateForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class DefinitionForm(forms.Form):
    """The whole definition as JSON (the power users' view)."""

    document = forms.CharField(label="Definition (JSON)", widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false",
                                                               "class": "json-input"}))

    def clean_document(self):
        try:
            value = json_loads_checked(self.cleaned_data["document"])
        except InputRejected as exc:
            raise forms.ValidationError(exc.message) from None
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"This is not JSON: {exc}.") from None
        if not isinstance(value, dict):
            raise forms.ValidationError('A definition is an object: {"nodes": [...], "edges": [...]}.')
        return value


def _json_field(label: str, help_text: str = RULE_HELP, required: bool = False) -> forms.CharField:
    return forms.CharField(label=label, required=required, help_text=help_text,
                           widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false", "class": "json-input"}))


def _parse_json(form: forms.Form, field: str) -> Any:
    raw = (form.cleaned_data.get(field) or "").strip()
    if not raw:
        return None
    try:
        return json_loads_checked(raw)
    except InputRejected as exc:
        form.add_error(field, exc.message)
        return None
    except json.JSONDecodeError as exc:
        form.add_error(field, f"This is not JSON: {exc}.")
        return None


class SettingsForm(forms.Form):
    """The fields every activity has; subclasses add theirs and implement settings()."""

    label = forms.CharField(required=False, max_length=60, help_text="Shown on the canvas instead of the type.")
    node_id = forms.CharField(label="Id", max_length=30, help_text="Names the activity in logs and the API.")

    def __init__(self, *args, node: dict[str, Any], audiences=(), **kwargs):
        self.node = node
        settings = node.get("settings") or {}
        initial = {"label": node.get("label", ""), "node_id": node["id"], **self.initial_from(settings)}
        super().__init__(*args, initial=initial, **kwargs)
        if "audience" in self.fields:
            self.fields["audience"].choices = [("", "—")] + [(str(a.pk), f"{a.name} ({a.entity.key})")
                                                             for a in audiences]

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        return {}

    def panel_fields(self) -> list:
        """The type's own fields, in order (the split's subset rows are drawn as a table)."""
        return [self[name] for name in self.fields if name not in ("label", "node_id") and not (
            name[:1] == "s" and name[1:2].isdigit())]

    def settings(self) -> dict[str, Any]:
        return {}


class BuildAudienceForm(SettingsForm):
    audience = forms.ChoiceField(label="A saved audience", required=False)
    definition = _json_field("Or a definition", 'An entity and a rule as JSON, e.g. {"entity": "customer", '
                                                '"rule": {"attr": "country", "op": "eq", "value": "NL"}}.')

    def initial_from(self, settings):
        return {"audience": str(settings.get("audience", "")),
                "definition": json.dumps(settings["definition"], indent=1) if "definition" in settings else ""}

    def clean(self):
        data = super().clean()
        if not data.get("audience") and not (data.get("definition") or "").strip():
            raise forms.ValidationError("Choose a saved audience or write a definition.")
        return data

    def settings(self):
        if self.cleaned_data.get("audience"):
            return {"audience": int(self.cleaned_data["audience"])}
        definition = _parse_json(self, "definition")
        return {"definition": definition}


class ReadAudienceForm(SettingsForm):
    audience = forms.ChoiceField(label="Saved audience")

    def initial_from(self, settings):
        return {"audience": str(settings.get("audience", ""))}

    def settings(self):
        return {"audience": int(self.cleaned_data["audience"])}


class CombineForm(SettingsForm):
    operation = forms.ChoiceField(choices=[("union", "Union: in any input"),
                                           ("intersection", "Intersection: in every input"),
                                           ("exclusion", "Exclusion: in the first input, in no other")])

    def initial_from(self, settings):
        return {"operation": settings.get("operation", "union")}

    def settings(self):
        return {"operation": self.cleaned_data["operation"]}


class SplitForm(SettingsForm):
    """Ordered subsets, one row each (an empty name drops the row), plus one empty row to
    add another."""

    complement = forms.BooleanField(required=False, label="The rest go to 'others'")
    overlapping = forms.BooleanField(required=False, label="A row may fall in several subsets")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        subsets = (self.node.get("settings") or {}).get("subsets") or []
        self.rows = max(len(subsets) + 1, 2)
        if self.is_bound:
            self.rows = max(self.rows, int(self.data.get("subset_rows") or 0))
        for i in range(self.rows):
            subset = subsets[i] if i < len(subsets) and isinstance(subsets[i], dict) else {}
            self.fields[f"s{i}_name"] = forms.CharField(required=False, max_length=40, label="Name",
                                                        initial=subset.get("name", ""))
            self.fields[f"s{i}_percent"] = forms.FloatField(required=False, min_value=0.01, max_value=100,
                                                            label="Random %", initial=subset.get("percent"))
            self.fields[f"s{i}_limit"] = forms.IntegerField(required=False, min_value=0, label="Limit",
                                                            initial=subset.get("limit"))
            self.fields[f"s{i}_rule"] = forms.CharField(
                required=False, label="Rule (JSON)", initial=json.dumps(subset["rule"]) if subset.get("rule") else "",
                widget=forms.TextInput(attrs={"spellcheck": "false", "class": "json-input",
                                              "placeholder": '{"attr": "loyalty_tier", "op": "eq", "value": "gold"}'}))

    def initial_from(self, settings):
        return {"complement": settings.get("complement", True), "overlapping": settings.get("overlapping", False)}

    def subset_rows(self):
        return [[self[f"s{i}_{f}"] for f in ("name", "percent", "limit", "rule")] for i in range(self.rows)]

    def settings(self):
        subsets = []
        for i in range(self.rows):
            name = (self.cleaned_data.get(f"s{i}_name") or "").strip()
            if not name:
                continue
            subset: dict[str, Any] = {"name": name}
            rule = _parse_json(self, f"s{i}_rule")
            if rule is not None:
                subset["rule"] = rule
            for key in ("percent", "limit"):
                if self.cleaned_data.get(f"s{i}_{key}") is not None:
                    subset[key] = self.cleaned_data[f"s{i}_{key}"]
            subsets.append(subset)
        return {"subsets": subsets, "complement": self.cleaned_data["complement"],
                "overlapping": self.cleaned_data["overlapping"]}


class DeduplicateForm(SettingsForm):
    fields_ = forms.CharField(label="Duplicates share", help_text="Attributes, comma-separated, e.g. email.")
    keep_first_by = forms.CharField(required=False, label="Keep the first by",
                                    help_text="An attribute; -attribute for the highest first, e.g. -created_at.")

    def initial_from(self, settings):
        return {"fields_": ", ".join(settings.get("fields") or []), "keep_first_by": settings.get("keep_first_by", "")}

    def settings(self):
        fields = [f.strip() for f in self.cleaned_data["fields_"].split(",") if f.strip()]
        result: dict[str, Any] = {"fields": fields}
        if self.cleaned_data.get("keep_first_by"):
            result["keep_first_by"] = self.cleaned_data["keep_first_by"].strip()
        return result


class ChangeDimensionForm(SettingsForm):
    path = forms.CharField(label="Follow the links", help_text="Link names, comma-separated, e.g. customer.")

    def initial_from(self, settings):
        return {"path": ", ".join(settings.get("path") or [])}

    def settings(self):
        return {"path": [p.strip() for p in self.cleaned_data["path"].split(",") if p.strip()]}


class ForkForm(SettingsForm):
    branches = forms.IntegerField(min_value=2, max_value=20, initial=2)

    def initial_from(self, settings):
        return {"branches": settings.get("branches", 2)}

    def settings(self):
        return {"branches": self.cleaned_data["branches"]}


class JsonSettingsForm(SettingsForm):
    """Activities without a form of their own: their settings as JSON (the activity's
    documentation says what they hold)."""

    settings_json = _json_field("Settings (JSON)", help_text="")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        activity = REGISTRY.get(self.node.get("type"))
        self.fields["settings_json"].help_text = " ".join((activity.__doc__ or "").split()) if activity else ""

    def initial_from(self, settings):
        return {"settings_json": json.dumps(settings, indent=1) if settings else ""}

    def settings(self):
        value = _parse_json(self, "settings_json")
        if value is not None and not isinstance(value, dict):
            self.add_error("settings_json", "Settings are a JSON object: {...}.")
        return value if isinstance(value, dict) else {}


NO_SETTINGS = ("start", "and_join", "end")
FORMS: dict[str, type[SettingsForm]] = {
    "build_audience": BuildAudienceForm,
    "read_audience": ReadAudienceForm,
    "combine": CombineForm,
    "split": SplitForm,
    "deduplicate": DeduplicateForm,
    "change_dimension": ChangeDimensionForm,
    "fork": ForkForm,
}


# A side panel given by an app above campaigns: factory(node, data, *, audiences, workspace)
# returns the bound or unbound SettingsForm (prefix "cfg") of a node of its type.
PanelForm = Callable[..., SettingsForm]
PANEL_FORMS: dict[str, PanelForm] = {}


def register_panel_form(activity_type: str, factory: PanelForm) -> None:
    """The side panel of `activity_type`'s nodes (channels registers its activities' in ready())."""
    PANEL_FORMS[activity_type] = factory


def settings_form(node: dict[str, Any], data=None, audiences=(), workspace=None) -> SettingsForm:
    panel = PANEL_FORMS.get(node.get("type"))
    if panel is not None:
        return panel(node, data, audiences=audiences, workspace=workspace)
    activity = REGISTRY.get(node.get("type"))
    plain = node.get("type") in NO_SETTINGS or (activity is not None and activity.sends)
    default = SettingsForm if plain else JsonSettingsForm
    return FORMS.get(node.get("type"), default)(data, node=node, audiences=audiences, prefix="cfg")
