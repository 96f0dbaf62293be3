"""Rules without a saved audience, as the builder uses them while a rule is edited:
validate, count, sample, the top values of an attribute, the count of each condition of a
group, and the SQL. All are reads (viewer role); they are POSTs because a rule is a JSON
tree. A definition with problems is a 400 {"problems": [{"path", "message"}, ...]}, the
same problems the builder shows."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audiences.rules.definition import Definition, check_definition
from apps.datamodel.selectors import value_for_json
from apps.tenants.api.scoping import WorkspaceScopedMixin
from apps.tenants.roles import WorkspaceRole

from .. import selectors
from . import serializers as s
from .common import TAGS, evaluating

PROBLEMS = OpenApiResponse(s.Problems, description="The definition's problems, each with its path.")


class RuleApi(WorkspaceScopedMixin, APIView):
    write_role = WorkspaceRole.VIEWER  # evaluating a rule writes nothing
    input_class: type[s.DefinitionInput] = s.DefinitionInput

    def checked(self, request) -> tuple[dict, Definition]:
        data = self.input_class(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        return values, check_definition(workspace=self.workspace, definition=values["definition"])


class RuleValidateApi(RuleApi):
    @extend_schema(tags=TAGS, operation_id="audience_rules_validate", request=s.DefinitionInput,
                   responses={200: s.ValidOutput, 400: PROBLEMS},
                   description="Checks a definition against the workspace's model, before any SQL exists: "
                               "unknown attributes, links and related names, operators that do not fit the type, "
                               "values of the wrong type, enum values not allowed, groups nested too deep, "
                               "audiences that are missing, of another entity or refer back to themselves.")
    def post(self, request, workspace_slug):
        _, definition = self.checked(request)
        return Response({"valid": True, "entity": definition.result_entity.key})


class RuleCountApi(RuleApi):
    @extend_schema(tags=TAGS, operation_id="audience_rules_count", request=s.DefinitionInput,
                   responses={200: s.CountOutput, 400: PROBLEMS}, description="The live count while editing.")
    def post(self, request, workspace_slug):
        _, definition = self.checked(request)
        with evaluating():
            result = selectors.count(definition=definition)
        return Response({"count": result.count, "ms": result.ms, "entity": result.entity,
                         "sql": selectors.inline_params(result.sql, result.params)})


class RuleSampleApi(RuleApi):
    input_class = s.SampleInput

    @extend_schema(tags=TAGS, operation_id="audience_rules_sample", request=s.SampleInput,
                   responses={200: s.SampleOutput, 400: PROBLEMS},
                   description="The first matching records (in key order) with all their attributes.")
    def post(self, request, workspace_slug):
        values, definition = self.checked(request)
        with evaluating():
            records = selectors.sample(definition=definition, limit=values["limit"])
        return Response({"entity": definition.result_entity.key, "records": s.records_json(records)})


class RuleDistributionApi(RuleApi):
    input_class = s.DistributionInput

    @extend_schema(tags=TAGS, operation_id="audience_rules_distribution", request=s.DistributionInput,
                   responses={200: s.DistributionOutput, 400: PROBLEMS},
                   description="The most frequent values of an attribute among the matching records.")
    def post(self, request, workspace_slug):
        values, definition = self.checked(request)
        with evaluating():
            top = selectors.distribution(definition=definition, attribute=values["attribute"],
                                         limit=values["limit"])
        return Response({"entity": definition.result_entity.key, "attribute": values["attribute"],
                         "values": [{"value": value_for_json(row["value"]), "count": row["count"]} for row in top]})


class RuleGroupCountsApi(RuleApi):
    input_class = s.GroupCountsInput

    @extend_schema(tags=TAGS, operation_id="audience_rules_group_counts", request=s.GroupCountsInput,
                   responses={200: s.GroupCountsOutput, 400: PROBLEMS},
                   description="For the group at `path`: how many records each of its conditions matches alone, "
                               "then the group. Counted on the rule's own entity (before a change of dimension).")
    def post(self, request, workspace_slug):
        data = self.input_class(data=request.data)
        data.is_valid(raise_exception=True)
        with evaluating():
            groups = selectors.group_counts(workspace=self.workspace, definition=data.validated_data["definition"],
                                            path=data.validated_data["path"])
        return Response({"groups": groups})


class RuleSqlApi(RuleApi):
    @extend_schema(tags=TAGS, operation_id="audience_rules_sql", request=s.DefinitionInput,
                   responses={200: s.SqlOutput, 400: PROBLEMS},
                   description="The one SQL query the rule compiles to (not run).")
    def post(self, request, workspace_slug):
        _, definition = self.checked(request)
        return Response({"sql": selectors.explain_sql(definition=definition), "entity": definition.result_entity.key})
