"""Forms of the campaign screens: a new campaign, and the settings of each activity type
(the side panel of the canvas). A settings form turns its fields into the activity's
settings dict (see activities/core.py) and back. Apps above campaigns give their
activities' panels through register_panel_form() in their AppConfig.ready()."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.forms.utils import ErrorDict

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


ON_EMPTY_CHOICES = [("continue", "Continue: what follows runs with no rows"),
                    ("stop", "Stop the branch: what follows is skipped")]


class SettingsForm(forms.Form):
    """The fields every activity has; subclasses add theirs and implement settings().

    `owned` names the settings keys a form edits: saving keeps every other key the node
    had (set over the API or the JSON view), so a panel never wipes what it does not
    show. None: settings() returns the whole settings itself (the JSON form, channels)."""

    owned: tuple[str, ...] | None = None
    # Set while the panel is redrawn after a change (not saved): no errors are shown yet.
    quiet = False

    label = forms.CharField(required=False, max_length=60, help_text="Shown on the canvas instead of the type.")
    node_id = forms.CharField(label="Id", max_length=30, help_text="Names the activity in logs and the API.")
    on_empty = forms.ChoiceField(label="When no rows come out", choices=ON_EMPTY_CHOICES, initial="continue",
                                 required=False)

    def __init__(self, *args, node: dict[str, Any], audiences=(), workspace=None, campaign_definition=None,
                 **kwargs):
        self.node = node
        self.workspace = workspace
        self.campaign_definition = campaign_definition
        settings = node.get("settings") or {}
        initial = {"label": node.get("label", ""), "node_id": node["id"],
                   "on_empty": settings.get("on_empty") if settings.get("on_empty") == "stop" else "continue",
                   **self.initial_from(settings)}
        super().__init__(*args, initial=initial, **kwargs)
        if "audience" in self.fields:
            self.fields["audience"].choices = [("", "—")] + [(str(a.pk), f"{a.name} ({a.entity.key})")
                                                             for a in audiences]

    def initial_from(self, settings: dict[str, Any]) -> dict[str, Any]:
        return {}

    def full_clean(self):
        super().full_clean()
        if self.quiet:
            self._errors = ErrorDict()

    def panel_fields(self) -> list:
        """The type's own fields, in order (the split's subset rows are drawn as a table)."""
        return [self[name] for name in self.fields if name not in ("label", "node_id", "on_empty") and not (
            name[:1] == "s" and name[1:2].isdigit())]

    def settings(self) -> dict[str, Any]:
        return {}

    def final_settings(self) -> dict[str, Any]:
        """settings(), with the keys this panel does not show kept and the empty-audience
        choice applied (valid forms only)."""
        result = self.settings()
        if self.owned is not None:
            before = self.node.get("settings") or {}
            result = {**{k: v for k, v in before.items() if k not in self.owned and k != "on_empty"}, **result}
        result.pop("on_empty", None)
        if self.cleaned_data.get("on_empty") == "stop":
            result["on_empty"] = "stop"
        return result


class ReadAudienceForm(SettingsForm):
    owned = ("audience",)
    audience = forms.ChoiceField(label="Saved audience")

    def initial_from(self, settings):
        return {"audience": str(settings.get("audience", ""))}

    def settings(self):
        return {"audience": int(self.cleaned_data["audience"])}


class CombineForm(SettingsForm):
    owned = ("operation",)
    operation = forms.ChoiceField(choices=[("union", "Union: in any input"),
                                           ("intersection", "Intersection: in every input"),
                                           ("exclusion", "Exclusion: in the first input, in no other")])

    def initial_from(self, settings):
        return {"operation": settings.get("operation", "union")}

    def settings(self):
        return {"operation": self.cleaned_data["operation"]}


class ChangeDimensionForm(SettingsForm):
    owned = ("path",)
    path = forms.CharField(label="Follow the links", help_text="Link names, comma-separated, e.g. customer.")

    def initial_from(self, settings):
        return {"path": ", ".join(settings.get("path") or [])}

    def settings(self):
        return {"path": [p.strip() for p in self.cleaned_data["path"].split(",") if p.strip()]}


class ForkForm(SettingsForm):
    owned = ("branches",)
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
    "read_audience": ReadAudienceForm,
    "combine": CombineForm,
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


def settings_form(node: dict[str, Any], data=None, audiences=(), workspace=None,
                  campaign_definition=None) -> SettingsForm:
    """The side panel of `node`; `campaign_definition` (the whole draft) tells a panel
    what rows reach the node (the entity its pickers offer)."""
    panel = PANEL_FORMS.get(node.get("type"))
    if panel is not None:
        return panel(node, data, audiences=audiences, workspace=workspace)
    from . import panels  # noqa: PLC0415  (the marketers' panels build on the forms above)

    activity = REGISTRY.get(node.get("type"))
    plain = node.get("type") in NO_SETTINGS or (activity is not None and activity.sends)
    default = SettingsForm if plain else JsonSettingsForm
    form_class = panels.PANELS.get(node.get("type")) or FORMS.get(node.get("type"), default)
    return form_class(data, node=node, audiences=audiences, prefix="cfg", workspace=workspace,
                      campaign_definition=campaign_definition)
