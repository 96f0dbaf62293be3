"""Templates and the email configuration over the API.

Templates: list (filter by channel), create, read, update, delete; `check/` judges unsaved
content for an editor's live feedback; `preview/` renders a template for a real record
(by key, or one at random); `proof/` sends it to test addresses marked [PROOF].
A template with problems is a 400 {"problems": [{"field", "line", "message"}]}.

The email configuration (workspace admins): the secret (SMTP password or ESP API key) is
write-only: answers carry `has_secret` and `secret_hint` (••••••••abcd), never the secret."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.tenants.api.scoping import WorkspaceScopedMixin

from .. import configuration, selectors, services
from ..models import ChannelKind, ContentTemplate
from ..proof_limits import ProofRateLimited
from . import channel_config
from .channel_config import CONFIG_TAGS, ProofThrottled

TAGS = ["templates"]
CHANNELS = [c for c in ChannelKind.values]

PROBLEM = inline_serializer("TemplateProblem", {
    "field": serializers.CharField(), "line": serializers.IntegerField(allow_null=True),
    "message": serializers.CharField()})
PROBLEMS = OpenApiResponse(inline_serializer("TemplateProblems", {"problems": PROBLEM.__class__(many=True)}),
                           description="Every problem of the content, with its field and line.")


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The template is in use."
    default_code = "conflict"


class TemplateOutput(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()

    class Meta:
        model = ContentTemplate
        fields = ["id", "name", "channel", "entity_key", "content", "created_by", "created_at", "updated_at"]

    def get_created_by(self, obj) -> str:
        return obj.created_by.email if obj.created_by_id else ""


class TemplateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    channel = serializers.ChoiceField(choices=ChannelKind.choices)
    entity_key = serializers.CharField(max_length=63, required=False, allow_blank=True, default="",
                                       help_text="The entity the template is written for (`target`); empty: "
                                                 "the profile dimension.")
    content = serializers.DictField(help_text="email: from_name, from_email, reply_to, subject, preheader, html, "
                                              "text (empty: generated from the HTML), and optionally blocks (the "
                                              "visual editor's document; the html is then compiled from it); "
                                              "direct_mail: html, css, "
                                              "page_size, return_address, and optionally address_position "
                                              "{left_mm, top_mm, width_mm, height_mm, padding_mm} and margins "
                                              "{top_mm, right_mm, bottom_mm, left_mm}. Text fields are Jinja "
                                              "templates.")


class TemplatePatchInput(TemplateInput):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False


class CheckInput(serializers.Serializer):
    channel = serializers.ChoiceField(choices=ChannelKind.choices)
    entity_key = serializers.CharField(max_length=63, required=False, allow_blank=True, default="")
    content = serializers.DictField()


class PreviewInput(serializers.Serializer):
    key = serializers.CharField(required=False, allow_blank=True, default="",
                                help_text="The record's primary key; empty: one at random.")
    entity = serializers.CharField(required=False, allow_blank=True, default="",
                                   help_text="The entity to pick the record from; default: the template's.")


class ProofInput(serializers.Serializer):
    addresses = serializers.ListField(child=serializers.CharField(max_length=254), min_length=1, max_length=20)
    key = serializers.CharField(required=False, allow_blank=True, default="")


def _write(view, request, template=None, partial=False) -> ContentTemplate:
    data = (TemplatePatchInput if partial else TemplateInput)(data=request.data)
    data.is_valid(raise_exception=True)
    values = data.validated_data
    if template is not None:
        values = {"name": template.name, "channel": template.channel, "entity_key": template.entity_key,
                  "content": template.content, **values}
    try:
        return configuration.template_write(workspace=view.workspace, actor=request.user, template=template,
                                            **values)
    except ValidationError as exc:
        if getattr(exc, "problems", None):
            raise ProblemsError(exc.problems) from None  # keeps `line` a number (DRF's errors are strings)
        raise


class ProblemsError(APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, problems):
        super().__init__()
        self.detail = {"problems": problems}


class TemplateListApi(WorkspaceScopedMixin, GenericAPIView):
    """The workspace's templates, by name."""

    queryset = ContentTemplate.objects.all()
    serializer_class = TemplateOutput

    def scope_queryset(self, queryset):
        return queryset.select_related("created_by").order_by("name", "id")

    @extend_schema(tags=TAGS, operation_id="templates_list", responses=TemplateOutput(many=True),
                   parameters=[OpenApiParameter("channel", enum=CHANNELS, required=False)])
    def get(self, request, workspace_slug):
        templates = self.get_queryset()
        channel = request.query_params.get("channel")
        if channel:
            if channel not in CHANNELS:
                raise serializers.ValidationError({"channel": f"one of {', '.join(CHANNELS)}"})
            templates = templates.filter(channel=channel)
        page = self.paginate_queryset(templates)
        return self.get_paginated_response(TemplateOutput(page, many=True).data)

    @extend_schema(tags=TAGS, operation_id="templates_create", request=TemplateInput,
                   responses={201: TemplateOutput, 400: PROBLEMS},
                   description="Checked like saving in the editor: a template that does not compile, or names an "
                               "attribute the model does not have, is refused with each problem's field and line.")
    def post(self, request, workspace_slug):
        template = _write(self, request)
        return Response(TemplateOutput(template).data, status=status.HTTP_201_CREATED)


class TemplateDetailApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="templates_retrieve", responses=TemplateOutput)
    def get(self, request, workspace_slug, pk):
        return Response(TemplateOutput(selectors.access_template(request.user, self.workspace, pk)).data)

    @extend_schema(tags=TAGS, operation_id="templates_update", request=TemplateInput,
                   responses={200: TemplateOutput, 400: PROBLEMS})
    def put(self, request, workspace_slug, pk):
        template = selectors.access_template(request.user, self.workspace, pk)
        return Response(TemplateOutput(_write(self, request, template)).data)

    @extend_schema(tags=TAGS, operation_id="templates_partial_update", request=TemplatePatchInput,
                   responses={200: TemplateOutput, 400: PROBLEMS})
    def patch(self, request, workspace_slug, pk):
        template = selectors.access_template(request.user, self.workspace, pk)
        return Response(TemplateOutput(_write(self, request, template, partial=True)).data)

    @extend_schema(tags=TAGS, operation_id="templates_destroy", responses={204: None, 409: OpenApiResponse(
        description="A campaign uses the template.")})
    def delete(self, request, workspace_slug, pk):
        template = selectors.access_template(request.user, self.workspace, pk)
        try:
            configuration.template_delete(workspace=self.workspace, actor=request.user, template=template)
        except ValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class TemplateCheckApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="templates_check", request=CheckInput,
                   responses=inline_serializer("TemplateCheck", {"valid": serializers.BooleanField(),
                                                                 "problems": PROBLEM.__class__(many=True)}),
                   description="Judges unsaved content as saving would (for an editor's live feedback). "
                               "Changes nothing.")
    def post(self, request, workspace_slug):
        data = CheckInput(data=request.data)
        data.is_valid(raise_exception=True)
        problems = selectors.template_problems(workspace=self.workspace, **data.validated_data)
        return Response({"valid": not problems, "problems": [p.as_dict() for p in problems]})


def _preview_body(result) -> dict:
    return {"entity": result.entity, "key": result.key, "fields": result.fields}


class TemplatePreviewApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="templates_preview", request=PreviewInput,
                   responses={200: inline_serializer("TemplatePreview", {
                       "entity": serializers.CharField(), "key": serializers.JSONField(),
                       "fields": serializers.DictField(child=serializers.CharField())}),
                       400: OpenApiResponse(description="No such record, or the template fails on its data.")},
                   description="The template rendered for one real record: by `key`, or one at random. "
                               "Changes nothing.")
    def post(self, request, workspace_slug, pk):
        template = selectors.access_template(request.user, self.workspace, pk)
        data = PreviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            result = selectors.preview(workspace=self.workspace, channel=template.channel, content=template.content,
                                       entity_key=data.validated_data["entity"] or template.entity_key,
                                       key=data.validated_data["key"])
        except selectors.PreviewError as exc:
            raise serializers.ValidationError({exc.field or "detail": [exc.message]}) from None
        return Response(_preview_body(result))


class TemplateProofApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="templates_proof", request=ProofInput,
                   responses={202: inline_serializer("ProofQueued", {"delivery": serializers.IntegerField(),
                                                                     "addresses": serializers.IntegerField()})},
                   description="Sends the template to up to 20 test addresses, subject marked [PROOF], "
                               "personalized with one real record (by key, or the first one). Proof and test "
                               "emails are limited per person and per workspace: beyond, a 429 with `Retry-After`.")
    def post(self, request, workspace_slug, pk):
        template = selectors.access_template(request.user, self.workspace, pk)
        data = ProofInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            delivery = services.proof_send(workspace=self.workspace, actor=request.user, channel=template.channel,
                                           content=template.content, addresses=data.validated_data["addresses"],
                                           entity_key=template.entity_key, key=data.validated_data["key"] or None)
        except ProofRateLimited as exc:
            raise ProofThrottled(exc) from None
        return Response({"delivery": delivery.pk, "addresses": delivery.total}, status=status.HTTP_202_ACCEPTED)


# --- the email configuration ---

class SmtpOptions(serializers.Serializer):
    host = serializers.CharField(required=False, allow_blank=True)
    port = serializers.IntegerField(required=False)
    username = serializers.CharField(required=False, allow_blank=True)
    use_tls = serializers.BooleanField(required=False)
    use_ssl = serializers.BooleanField(required=False)
    timeout = serializers.FloatField(required=False)
    esp = serializers.CharField(required=False, allow_blank=True, help_text="anymail: the ESP (mailgun, ...)")


class ChannelConfigOutput(channel_config.ConfigOutput):
    from_email = serializers.CharField()
    from_name = serializers.CharField()
    reply_to = serializers.CharField()
    tracking_domain = serializers.CharField()


class ChannelConfigInput(channel_config.ConfigInput):
    backend = serializers.ChoiceField(choices=["smtp", "anymail"])
    options = serializers.DictField(help_text="smtp: host, port, username, use_tls, use_ssl, timeout; anymail: esp "
                                              "and the ESP's non-secret options (sender_domain, api_url...).")
    secret = serializers.CharField(required=False, allow_blank=True, write_only=True, trim_whitespace=False,
                                   help_text="The SMTP password or the ESP's API key. Write-only; left out or empty "
                                             "keeps the stored one.")
    from_email = serializers.EmailField(required=False, allow_blank=True)
    from_name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    reply_to = serializers.EmailField(required=False, allow_blank=True)
    tracking_domain = serializers.URLField(required=False, allow_blank=True, max_length=200)


@extend_schema_view(
    get=extend_schema(tags=CONFIG_TAGS, operation_id="channels_email_retrieve", responses=ChannelConfigOutput,
                      description="How the workspace sends email. The secret is never returned: `has_secret` and "
                                  "`secret_hint` say whether one is stored and how it ends."),
    put=extend_schema(tags=CONFIG_TAGS, operation_id="channels_email_update", request=ChannelConfigInput,
                      responses=ChannelConfigOutput))
class ChannelConfigApi(channel_config.ConfigApi):
    channel = "email"
    default_backend = "smtp"
    output = ChannelConfigOutput
    input = ChannelConfigInput
    fields = configuration.CONFIG_FIELDS
    save = configuration.channel_config_save


class ChannelConfigTestApi(channel_config.ConfigTestApi):
    field = "address"
    missing = "give an email address"

    def send(self, value: str) -> str:
        return configuration.channel_config_test_send(workspace=self.workspace, actor=self.request.user,
                                                      address=value)

    def is_input_error(self, message: str) -> bool:
        return message.startswith("not an email address")

    @extend_schema(tags=CONFIG_TAGS, operation_id="channels_email_test",
                   request=inline_serializer("EmailTestInput", {"address": serializers.EmailField()}),
                   responses={200: inline_serializer("EmailTestSent", {"sent": serializers.BooleanField(),
                                                                      "via": serializers.CharField()}),
                              502: inline_serializer("EmailTestFailed", {"sent": serializers.BooleanField(),
                                                                        "error": serializers.CharField()})},
                   description="Sends one plain email through the saved configuration. When the server refuses "
                               "or cannot be reached, a 502 carries its reply in `error`. Counts against the "
                               "limit of proof and test emails (429 with `Retry-After` beyond).")
    def post(self, request, workspace_slug):
        return super().post(request, workspace_slug)
