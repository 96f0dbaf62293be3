"""The side panels a marketer fills in instead of JSON: Build audience and Split subsets
with the audience portal's rule builder (apps.audiences.views.embed), and attribute
pickers fed from the workspace's data model for Deduplication, Wait and Save audience.
Each keeps the settings it does not show (SettingsForm.owned)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from apps.audiences.views import embed
from apps.datamodel.schema import Schema

from .activities.flow import UNITS
from .forms import SettingsForm
from .graph import GraphError, check_graph

BUILD_PREFIX = "rb-"


def input_entity(workspace, definition: dict | None, node_id: str, schema: Schema) -> str | None:
    """The entity of the rows reaching `node_id` in a (maybe half-built) draft, or None."""
    if workspace is None or not isinstance(definition, dict):
        return None
    try:
        plan = check_graph(workspace=workspace, definition=definition, schema=schema, complete=True)
    except GraphError as exc:
        plan = exc.plan
    if plan is None:
        return None
    sources = plan.inputs.get(node_id) or []
    return plan.outlet_entities.get(sources[0]) if sources else None


class ModelPanel(SettingsForm):
    """A panel that reads the data model (and the entity of the rows it receives)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.rule_errors: list[str] = []  # a posted rule that could not be read
        self.schema = Schema.load(self.workspace) if self.workspace is not None else None
        self.entity_key = input_entity(self.workspace, self.campaign_definition, self.node["id"], self.schema) \
            if self.schema is not None else None
        self.entity = self.schema.entities.get(self.entity_key) if self.entity_key else None

    def clean(self):
        data = super().clean()
        for message in self.rule_errors:
            self.add_error(None, f"{message} Nothing was saved: reload the canvas.")
        return data

    def attribute_choices(self, blank: str | None = None) -> list[tuple[str, str]]:
        choices = [("", blank)] if blank is not None else []
        if self.entity is None:
            return choices
        return choices + [(a.key, a.label or a.key) for a in self.schema.attributes[self.entity.pk].values()]

    def rule(self, prefix: str, entity_key: str | None, stored: Any) -> dict[str, Any]:
        """The rule of the builder at `prefix`: as posted (with its action applied) when
        bound, else as stored."""
        definition = None
        if self.is_bound:
            try:
                definition = embed.posted_definition(self.data, prefix)
            except embed.DefinitionError as exc:
                self.rule_errors.append(str(exc))
                definition = None
            if definition is not None and (entity_key is None or definition.get("entity") == entity_key):
                return embed.rule_edit(self.workspace, self.schema, definition, self.data, prefix=prefix)
        if isinstance(stored, dict) and "entity" in stored:
            return stored
        return {"entity": entity_key, "rule": stored if isinstance(stored, dict) else None}


class BuildAudiencePanel(ModelPanel):
    """A saved audience, or a rule drawn with the audience builder (and its live count)."""

    owned = ("audience", "definition")
    panel_template = "campaigns/_panel_build_audience.html"
    audience = forms.ChoiceField(label="A saved audience", required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["audience"].choices = [("", "None: the rule below")] + self.fields["audience"].choices[1:]
        settings = self.node.get("settings") or {}
        default = None
        if self.schema is not None and self.schema.entities:
            profile = sorted(self.schema.entities.values(), key=lambda e: (not e.is_profile, e.label.lower()))[0]
            default = {"entity": profile.key, "rule": None}
        stored = settings.get("definition") if isinstance(settings.get("definition"), dict) else default
        self.definition = self.rule(BUILD_PREFIX, None, stored) if self.schema is not None else stored
        self.problems: list[dict] = []

    def initial_from(self, settings):
        return {"audience": str(settings.get("audience", ""))}

    def rule_card(self) -> dict[str, Any] | None:
        if self.schema is None or not isinstance(self.definition, dict):
            return None
        problems = self.problems or (embed.rule_problems(self.workspace, self.schema, self.definition)
                                     if self.quiet else [])
        return embed.rule_card_context(self.workspace, self.schema, self.definition, prefix=BUILD_PREFIX,
                                       problems=problems)

    def clean(self):
        data = super().clean()
        if not data.get("audience"):
            if self.schema is None or not isinstance(self.definition, dict):
                raise forms.ValidationError("Choose a saved audience or build a rule.")
            self.problems = embed.rule_problems(self.workspace, self.schema, self.definition)
            if self.problems:
                raise forms.ValidationError("The rule has problems: " + "; ".join(
                    p["message"] for p in self.problems[:5]))
        return data

    def settings(self):
        if self.cleaned_data.get("audience"):
            return {"audience": int(self.cleaned_data["audience"])}
        return {"definition": self.definition}


class SplitPanel(ModelPanel):
    """Ordered subsets, one row each: a name, a rule (the audience builder), a random %,
    the top N by an attribute, at most so many per value of an attribute, a limit. An
    empty name drops the row; one empty row adds a subset."""

    owned = ("subsets", "complement", "overlapping")
    panel_template = "campaigns/_panel_split.html"
    complement = forms.BooleanField(required=False, label="The rest go to 'others'")
    overlapping = forms.BooleanField(required=False, label="A row may fall in several subsets")
    ROW_FIELDS = ("name", "percent", "limit", "top_attr", "top_dir", "top_n", "group_attr", "group_limit")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        subsets = (self.node.get("settings") or {}).get("subsets") or []
        self.stored = [s if isinstance(s, dict) else {} for s in subsets]
        self.rows = max(len(subsets) + 1, 2)
        if self.is_bound:
            try:
                self.rows = max(self.rows, min(int(self.data.get("subset_rows") or 0), 50))
            except ValueError:
                pass
        attrs = self.attribute_choices("—")
        self.rules: list[dict[str, Any] | None] = []
        for i in range(self.rows):
            subset = self.stored[i] if i < len(self.stored) else {}
            top = subset.get("top") if isinstance(subset.get("top"), dict) else {}
            group = subset.get("per_group") if isinstance(subset.get("per_group"), dict) else {}
            f = self.fields
            f[f"s{i}_name"] = forms.CharField(required=False, max_length=40, label="Name",
                                              initial=subset.get("name", ""))
            f[f"s{i}_percent"] = forms.FloatField(required=False, min_value=0.01, max_value=100, label="Random %",
                                                  initial=subset.get("percent"))
            f[f"s{i}_limit"] = forms.IntegerField(required=False, min_value=0, label="At most",
                                                  initial=subset.get("limit"))
            f[f"s{i}_top_attr"] = forms.ChoiceField(required=False, label="Top by", choices=attrs,
                                                    initial=top.get("attr", ""))
            f[f"s{i}_top_dir"] = forms.ChoiceField(required=False, label="Order", choices=[
                ("desc", "highest first"), ("asc", "lowest first")],
                initial="desc" if top.get("desc", True) else "asc")
            f[f"s{i}_top_n"] = forms.IntegerField(required=False, min_value=1, label="N", initial=top.get("n"))
            f[f"s{i}_group_attr"] = forms.ChoiceField(required=False, label="Per value of", choices=attrs,
                                                      initial=group.get("attr", ""))
            f[f"s{i}_group_limit"] = forms.IntegerField(required=False, min_value=1, label="at most",
                                                        initial=group.get("limit"))
            self.rules.append(self.rule(f"rule{i}-", self.entity_key, subset.get("rule"))
                              if self.entity is not None else None)

    def initial_from(self, settings):
        return {"complement": settings.get("complement", True), "overlapping": settings.get("overlapping", False)}

    def subsets(self) -> list[dict[str, Any]]:
        """The rows as the template draws them."""
        rows = []
        for i in range(self.rows):
            card = None
            if self.rules[i] is not None:
                card = embed.rule_card_context(self.workspace, self.schema, self.rules[i], prefix=f"rule{i}-",
                                               fixed_entity=True)
            rows.append({"index": i, "card": card, **{name: self[f"s{i}_{name}"] for name in self.ROW_FIELDS},
                         "errors": [e for name in self.ROW_FIELDS for e in self[f"s{i}_{name}"].errors]})
        return rows

    def clean(self):
        data = super().clean()
        for i in range(self.rows):
            name = (data.get(f"s{i}_name") or "").strip()
            if not name:
                continue
            if data.get(f"s{i}_top_attr") and data.get(f"s{i}_top_n") is None:
                self.add_error(f"s{i}_top_n", f"Subset {name}: how many of the top rows to take (N).")
            if data.get(f"s{i}_top_n") is not None and not data.get(f"s{i}_top_attr"):
                self.add_error(f"s{i}_top_attr", f"Subset {name}: the attribute to take the top {data[f's{i}_top_n']} by.")
            if bool(data.get(f"s{i}_group_attr")) != (data.get(f"s{i}_group_limit") is not None):
                self.add_error(f"s{i}_group_limit" if data.get(f"s{i}_group_attr") else f"s{i}_group_attr",
                               f"Subset {name}: a limit per group needs both the attribute and the number.")
            rule = self.rules[i]
            if rule is not None and rule.get("rule") is not None:
                problems = embed.rule_problems(self.workspace, self.schema, rule)
                if problems:
                    self.add_error(f"s{i}_name", f"Subset {name}: the rule has problems: " + "; ".join(
                        p["message"] for p in problems[:5]))
        return data

    def settings(self):
        subsets = []
        for i in range(self.rows):
            data = self.cleaned_data
            name = (data.get(f"s{i}_name") or "").strip()
            if not name:
                continue
            before = self.stored[i] if i < len(self.stored) else {}
            # Keys of a subset this panel does not show stay with it.
            subset: dict[str, Any] = {k: v for k, v in before.items()
                                      if k not in ("name", "rule", "percent", "limit", "top", "per_group")}
            subset["name"] = name
            if self.rules[i] is not None:
                if self.rules[i].get("rule") is not None:
                    subset["rule"] = self.rules[i]["rule"]
            elif before.get("rule") is not None:
                subset["rule"] = before["rule"]  # no input yet to draw the rule on: it stays as it was
            if data.get(f"s{i}_percent") is not None:
                subset["percent"] = data[f"s{i}_percent"]
            if data.get(f"s{i}_limit") is not None:
                subset["limit"] = data[f"s{i}_limit"]
            if data.get(f"s{i}_top_attr"):
                subset["top"] = {"attr": data[f"s{i}_top_attr"], "desc": data.get(f"s{i}_top_dir") != "asc",
                                 "n": data[f"s{i}_top_n"]}
            if data.get(f"s{i}_group_attr"):
                subset["per_group"] = {"attr": data[f"s{i}_group_attr"], "limit": data[f"s{i}_group_limit"]}
            subsets.append(subset)
        return {"subsets": subsets, "complement": self.cleaned_data["complement"],
                "overlapping": self.cleaned_data["overlapping"]}


class DeduplicatePanel(ModelPanel):
    owned = ("fields", "keep_first_by")
    fields_ = forms.MultipleChoiceField(label="Duplicates share", widget=forms.CheckboxSelectMultiple,
                                        help_text="Rows with the same values of these attributes are duplicates.")
    keep_first_by = forms.ChoiceField(label="Keep the one with", required=False)
    direction = forms.ChoiceField(label="Order", required=False, choices=[
        ("asc", "the lowest value"), ("desc", "the highest value")])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fields_"].choices = self.attribute_choices()
        self.fields["keep_first_by"].choices = self.attribute_choices("— (the lowest key)")
        if self.entity is None:
            self.fields["fields_"].help_text = "Connect this activity to an input first: its attributes show here."

    def initial_from(self, settings):
        order = settings.get("keep_first_by") or ""
        return {"fields_": settings.get("fields") or [], "keep_first_by": order.lstrip("-"),
                "direction": "desc" if order.startswith("-") else "asc"}

    def settings(self):
        result: dict[str, Any] = {"fields": list(self.cleaned_data["fields_"])}
        if self.cleaned_data.get("keep_first_by"):
            sign = "-" if self.cleaned_data.get("direction") == "desc" else ""
            result["keep_first_by"] = sign + self.cleaned_data["keep_first_by"]
        return result


class WaitPanel(SettingsForm):
    owned = ("amount", "unit", "until")
    kind = forms.ChoiceField(label="Wait", choices=[("duration", "for a duration"),
                                                    ("time", "until a time of day"),
                                                    ("moment", "until a date and time")], initial="duration")
    amount = forms.IntegerField(label="How long", required=False, min_value=0, max_value=525_600)
    unit = forms.ChoiceField(label="Unit", required=False, choices=[(u, u) for u in UNITS], initial="hours")
    time = forms.TimeField(label="Time of day (the workspace's zone)", required=False,
                           widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    moment = forms.DateTimeField(label="Date and time (the workspace's zone)", required=False,
                                 widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                                 input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"])

    def initial_from(self, settings):
        until = str(settings.get("until") or "")
        if until and len(until) <= 5:
            return {"kind": "time", "time": until}
        if until:
            try:
                return {"kind": "moment", "moment": dt.datetime.fromisoformat(until)}
            except ValueError:
                return {"kind": "moment"}
        return {"kind": "duration", "amount": settings.get("amount"), "unit": settings.get("unit", "hours")}

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == "duration":
            if data.get("amount") is None:
                self.add_error("amount", "How long to wait: a whole number.")
            elif data["amount"] * UNITS.get(data.get("unit") or "minutes", 1) > 60 * 24 * 365:
                self.add_error("amount", "A wait is at most a year.")
        elif kind == "time" and data.get("time") is None:
            self.add_error("time", "The time of day to wait for (HH:MM).")
        elif kind == "moment" and data.get("moment") is None:
            self.add_error("moment", "The date and time to wait for.")
        return data

    def settings(self):
        data = self.cleaned_data
        if data["kind"] == "time":
            return {"until": data["time"].strftime("%H:%M")}
        if data["kind"] == "moment":
            return {"until": data["moment"].replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M")}
        return {"amount": data["amount"], "unit": data.get("unit") or "hours"}


class SaveAudiencePanel(SettingsForm):
    owned = ("name", "mode")
    name = forms.CharField(label="Save as the audience", max_length=200,
                           help_text="A snapshot audience of the rows that reach here (new, or one saved before).")
    mode = forms.ChoiceField(label="If it exists", choices=[("replace", "Replace its rows"),
                                                           ("append", "Add to its rows")], initial="replace")

    def initial_from(self, settings):
        return {"name": settings.get("name", ""), "mode": settings.get("mode", "replace")}

    def settings(self):
        return {"name": self.cleaned_data["name"].strip(), "mode": self.cleaned_data["mode"]}


PANELS: dict[str, type[SettingsForm]] = {
    "build_audience": BuildAudiencePanel,
    "split": SplitPanel,
    "deduplicate": DeduplicatePanel,
    "wait": WaitPanel,
    "save_audience": SaveAudiencePanel,
}


class EnrichmentPanel(ModelPanel):
    """Columns added to the rows: attributes (through many-to-one links), aggregates of
    related rows, and the first related row or a list of them, each picked from the data
    model. A row's filter on related rows ("where", a rule) is kept as it was (the JSON
    view edits it); an empty column name drops the row; one empty row of each kind adds."""

    owned = ("attributes", "aggregates", "first", "lists")
    panel_template = "campaigns/_panel_enrichment.html"
    KINDS = {"attributes": ("name", "path"), "aggregates": ("name", "related", "agg", "attr"),
             "related": ("name", "kind", "related", "order_by", "descending", "columns", "limit")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        settings = self.node.get("settings") or {}
        self.stored = {
            "attributes": [a for a in settings.get("attributes") or [] if isinstance(a, dict)],
            "aggregates": [a for a in settings.get("aggregates") or [] if isinstance(a, dict)],
            "related": [{**a, "_kind": "first"} for a in settings.get("first") or [] if isinstance(a, dict)]
            + [{**a, "_kind": "list"} for a in settings.get("lists") or [] if isinstance(a, dict)]}
        self.counts = {}
        for group, rows in self.stored.items():
            count = len(rows) + 1
            if self.is_bound:
                try:
                    count = max(count, min(int(self.data.get(f"{group}_rows") or 0), 50))
                except ValueError:
                    pass
            self.counts[group] = count
        paths, related, related_attrs = self._choices()
        for i in range(self.counts["attributes"]):
            row = self._stored("attributes", i)
            self.fields[f"attributes{i}_name"] = forms.CharField(required=False, max_length=41, label="Column",
                                                                 initial=row.get("name", ""))
            self.fields[f"attributes{i}_path"] = forms.ChoiceField(required=False, label="Attribute",
                                                                   choices=paths, initial=row.get("path", ""))
        for i in range(self.counts["aggregates"]):
            row = self._stored("aggregates", i)
            self.fields[f"aggregates{i}_name"] = forms.CharField(required=False, max_length=41, label="Column",
                                                                 initial=row.get("name", ""))
            self.fields[f"aggregates{i}_related"] = forms.ChoiceField(required=False, label="Of their",
                                                                      choices=related, initial=row.get("related", ""))
            self.fields[f"aggregates{i}_agg"] = forms.ChoiceField(
                required=False, label="Measure", initial=row.get("agg", "count"),
                choices=[("count", "count"), ("sum", "sum of"), ("avg", "average of"), ("min", "lowest"),
                         ("max", "highest")])
            self.fields[f"aggregates{i}_attr"] = forms.ChoiceField(required=False, label="Attribute",
                                                                   choices=related_attrs, initial=row.get("attr", ""))
        for i in range(self.counts["related"]):
            row = self._stored("related", i)
            self.fields[f"related{i}_name"] = forms.CharField(required=False, max_length=41, label="Column",
                                                              initial=row.get("name", ""))
            self.fields[f"related{i}_kind"] = forms.ChoiceField(
                required=False, label="Take", initial=row.get("_kind", "first"),
                choices=[("first", "the first"), ("list", "a list")])
            self.fields[f"related{i}_related"] = forms.ChoiceField(required=False, label="Of their",
                                                                   choices=related, initial=row.get("related", ""))
            self.fields[f"related{i}_order_by"] = forms.ChoiceField(required=False, label="Ordered by",
                                                                    choices=related_attrs,
                                                                    initial=row.get("order_by", ""))
            self.fields[f"related{i}_descending"] = forms.BooleanField(required=False, label="Highest first",
                                                                       initial=bool(row.get("descending")))
            self.fields[f"related{i}_columns"] = forms.MultipleChoiceField(
                required=False, label="With", choices=related_attrs[1:], initial=row.get("attributes") or [],
                widget=forms.SelectMultiple(attrs={"size": 4}))
            self.fields[f"related{i}_limit"] = forms.IntegerField(required=False, min_value=1, max_value=50,
                                                                  label="List of at most", initial=row.get("limit"))

    def _stored(self, group: str, index: int) -> dict[str, Any]:
        rows = self.stored[group]
        return rows[index] if index < len(rows) else {}

    def _choices(self):
        """(attribute paths through links, related rows, attributes of related rows)."""
        if self.entity is None:
            return [("", "—")], [("", "—")], [("", "—")]
        schema, entity = self.schema, self.entity
        paths = [("", "—")] + [(a.key, a.label or a.key) for a in schema.attributes[entity.pk].values()]
        for link, rel in sorted(schema.outgoing[entity.pk].items()):
            paths += [(f"{link}.{a.key}", f"{link} › {a.label or a.key}")
                      for a in schema.attributes[rel.target.pk].values()]
        related = [("", "—")] + [(key, f"{key} ({rel.source.label})")
                                 for key, rel in sorted(schema.incoming[entity.pk].items())]
        seen: dict[str, str] = {}
        for rel in schema.incoming[entity.pk].values():
            for a in schema.attributes[rel.source.pk].values():
                seen.setdefault(a.key, f"{a.label or a.key} ({rel.source.label})")
        return paths, related, [("", "—")] + sorted(seen.items(), key=lambda kv: kv[1].lower())

    def rows_attributes(self):
        return self.rows("attributes")

    def rows_aggregates(self):
        return self.rows("aggregates")

    def rows_related(self):
        return self.rows("related")

    def rows(self, group: str) -> list[dict[str, Any]]:
        return [{"index": i, **{f: self[f"{group}{i}_{f}"] for f in self.KINDS[group]},
                 "errors": [e for f in self.KINDS[group] for e in self[f"{group}{i}_{f}"].errors]}
                for i in range(self.counts[group])]

    def clean(self):
        data = super().clean()
        if self.errors or self.entity is None:
            if self.entity is None:
                raise forms.ValidationError("Connect this activity to an input first: its columns come from the "
                                            "rows it receives.")
            return data
        from .activities import REGISTRY  # noqa: PLC0415
        from .activities.base import SettingsError  # noqa: PLC0415

        try:
            REGISTRY["enrichment"]._plan(self.settings(), self.entity, self.schema)
        except SettingsError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data

    def settings(self):
        data = self.cleaned_data
        result: dict[str, list] = {"attributes": [], "aggregates": [], "first": [], "lists": []}

        def kept(group: str, i: int, shown: tuple[str, ...]) -> dict[str, Any]:
            # What a row holds that the panel does not show (its "where" rule) stays with it.
            return {k: v for k, v in self._stored(group, i).items() if k not in shown and k != "_kind"}

        for i in range(self.counts["attributes"]):
            name = (data.get(f"attributes{i}_name") or "").strip()
            if name:
                result["attributes"].append({**kept("attributes", i, ("name", "path")), "name": name,
                                             "path": data.get(f"attributes{i}_path") or ""})
        for i in range(self.counts["aggregates"]):
            name = (data.get(f"aggregates{i}_name") or "").strip()
            if name:
                item = {**kept("aggregates", i, ("name", "related", "agg", "attr")), "name": name,
                        "related": data.get(f"aggregates{i}_related") or "", "agg": data.get(f"aggregates{i}_agg")
                        or "count"}
                if item["agg"] != "count":
                    item["attr"] = data.get(f"aggregates{i}_attr") or ""
                result["aggregates"].append(item)
        for i in range(self.counts["related"]):
            name = (data.get(f"related{i}_name") or "").strip()
            if not name:
                continue
            kind = data.get(f"related{i}_kind") or "first"
            item = {**kept("related", i, ("name", "related", "order_by", "descending", "attributes", "limit")),
                    "name": name, "related": data.get(f"related{i}_related") or "",
                    "order_by": data.get(f"related{i}_order_by") or "",
                    "descending": bool(data.get(f"related{i}_descending")),
                    "attributes": list(data.get(f"related{i}_columns") or [])}
            if kind == "list":
                item["limit"] = data.get(f"related{i}_limit") or 10
                result["lists"].append(item)
            else:
                result["first"].append(item)
        return {k: v for k, v in result.items() if v}


PANELS["enrichment"] = EnrichmentPanel
