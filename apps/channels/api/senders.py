"""Sender domains over the API (workspace admins): list, add (the confirmation link is
mailed to a role mailbox at the domain), read, send the link again, check the domain's
DNS TXT record, delete. The link's confirmation itself is a page: not an API call."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.net import client_ip
from apps.tenants.api.scoping import WorkspaceScopedMixin
from apps.tenants.roles import WorkspaceRole

from .. import senders
from ..models import SenderDomain

TAGS = ["channels"]
ADMIN = WorkspaceRole.ADMIN


class SenderDomainOutput(serializers.ModelSerializer):
    class Meta:
        model = SenderDomain
        fields = ["id", "domain", "status", "confirm_address", "link_sent_at", "verified_at", "verified_via",
                  "dns_record", "dns_checked_at", "dns_result", "created_at"]


class SenderDomainInput(serializers.Serializer):
    domain = serializers.CharField(max_length=253, help_text="e.g. example.com")
    mailbox = serializers.ChoiceField(choices=senders.ROLE_MAILBOXES, default="postmaster", required=False,
                                      help_text="The confirmation link goes to this mailbox at the domain.")


class ResendInput(serializers.Serializer):
    mailbox = serializers.ChoiceField(choices=senders.ROLE_MAILBOXES, default="postmaster", required=False)


class SenderDomainListApi(WorkspaceScopedMixin, GenericAPIView):
    read_role = ADMIN
    write_role = ADMIN
    queryset = SenderDomain.objects.all()
    serializer_class = SenderDomainOutput

    def scope_queryset(self, queryset):
        return queryset.order_by("domain", "id")

    @extend_schema(tags=TAGS, operation_id="sender_domains_list", responses=SenderDomainOutput(many=True),
                   description="The domains the workspace may send from through the platform's email server "
                               "(verified) or asked to (pending).")
    def get(self, request, workspace_slug):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(SenderDomainOutput(page, many=True).data)

    @extend_schema(tags=TAGS, operation_id="sender_domains_create", request=SenderDomainInput,
                   responses={201: SenderDomainOutput},
                   description="Adds a pending domain and mails a confirmation link (valid SENDER_DOMAIN_LINK_HOURS) "
                               "to mailbox@domain; whoever reads it confirms on the link's page.")
    def post(self, request, workspace_slug):
        data = SenderDomainInput(data=request.data)
        data.is_valid(raise_exception=True)
        sender = senders.sender_domain_add(workspace=self.workspace, actor=request.user, ip_address=client_ip(request),
                                           **data.validated_data)
        return Response(SenderDomainOutput(sender).data, status=status.HTTP_201_CREATED)


class SenderDomainDetailApi(WorkspaceScopedMixin, APIView):
    read_role = ADMIN
    write_role = ADMIN

    @extend_schema(tags=TAGS, operation_id="sender_domains_retrieve", responses=SenderDomainOutput)
    def get(self, request, workspace_slug, pk):
        return Response(SenderDomainOutput(senders.access_sender_domain(request.user, self.workspace, pk)).data)

    @extend_schema(tags=TAGS, operation_id="sender_domains_destroy", responses={204: None},
                   description="Campaigns sending from the domain through the platform's server fail their "
                               "messages from now on.")
    def delete(self, request, workspace_slug, pk):
        sender = senders.access_sender_domain(request.user, self.workspace, pk)
        senders.sender_domain_delete(workspace=self.workspace, actor=request.user, sender_domain=sender,
                                     ip_address=client_ip(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SenderDomainCheckDnsApi(WorkspaceScopedMixin, APIView):
    read_role = ADMIN
    write_role = ADMIN

    @extend_schema(tags=TAGS, operation_id="sender_domains_check_dns", request=None,
                   responses={200: SenderDomainOutput, 400: OpenApiResponse(description="Already verified.")},
                   description="Looks for the TXT record `dns_record` at the domain now: `status` becomes verified "
                               "when it is there; `dns_result` says what was found otherwise.")
    def post(self, request, workspace_slug, pk):
        sender = senders.access_sender_domain(request.user, self.workspace, pk)
        sender = senders.sender_domain_check_dns(workspace=self.workspace, actor=request.user, sender_domain=sender,
                                                 ip_address=client_ip(request))
        return Response(SenderDomainOutput(sender).data)


class SenderDomainResendApi(WorkspaceScopedMixin, APIView):
    read_role = ADMIN
    write_role = ADMIN

    @extend_schema(tags=TAGS, operation_id="sender_domains_resend", request=ResendInput,
                   responses={200: SenderDomainOutput, 400: OpenApiResponse(description="Already verified.")},
                   description="A new confirmation link (the previous one stops working).")
    def post(self, request, workspace_slug, pk):
        sender = senders.access_sender_domain(request.user, self.workspace, pk)
        data = ResendInput(data=request.data)
        data.is_valid(raise_exception=True)
        sender = senders.sender_domain_send_link(workspace=self.workspace, actor=request.user, sender_domain=sender,
                                                 ip_address=client_ip(request), **data.validated_data)
        return Response(SenderDomainOutput(sender).data)
