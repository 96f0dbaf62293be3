"""The push device registry over the partner API: what a mobile app's backend calls when
its app gets (or loses) a push token, and what a website's backend may call with a
browser's Web Push subscription. Registering is idempotent by (platform, token)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.tenants.api.scoping import WorkspaceScopedMixin

from .. import devices
from ..models import PushPlatform, PushSubscription

TAGS = ["push"]


class WebPushKeysShape(serializers.Serializer):
    p256dh = serializers.CharField(max_length=200, help_text="The browser's P-256 public key, base64url.")
    auth = serializers.CharField(max_length=100, help_text="The browser's 16-byte auth secret, base64url.")


class WebPushSubscriptionShape(serializers.Serializer):
    endpoint = serializers.CharField(max_length=devices.ENDPOINT_MAX,
                                     help_text="The push service URL the browser gave (PushSubscription.endpoint).")
    keys = WebPushKeysShape()
    expirationTime = serializers.IntegerField(required=False, allow_null=True, help_text="Ignored.")


class RegisterInput(serializers.Serializer):
    platform = serializers.ChoiceField(choices=PushPlatform.choices)
    profile_key = serializers.CharField(max_length=devices.PROFILE_KEY_MAX, help_text="The profile's key.")
    token = serializers.CharField(max_length=4096, required=False,
                                  help_text="android: the FCM registration token; ios: the APNs device token (hex).")
    subscription = WebPushSubscriptionShape(required=False,
                                            help_text="web: the browser's PushSubscription.toJSON().")
    app_id = serializers.CharField(max_length=200, required=False, allow_blank=True,
                                   help_text="ios: the bundle id (the APNs topic); android: the Firebase app id.")


class UnregisterInput(serializers.Serializer):
    platform = serializers.ChoiceField(choices=PushPlatform.choices)
    token = serializers.CharField(max_length=4096, required=False, help_text="android / ios: the device token.")
    endpoint = serializers.CharField(max_length=devices.ENDPOINT_MAX, required=False,
                                     help_text="web: the subscription's endpoint.")


class ListInput(serializers.Serializer):
    profile_key = serializers.CharField(max_length=devices.PROFILE_KEY_MAX, required=False)
    platform = serializers.ChoiceField(choices=PushPlatform.choices, required=False)
    active = serializers.BooleanField(required=False, allow_null=True, default=None)


class PushSubscriptionOutput(serializers.ModelSerializer):
    endpoint = serializers.SerializerMethodField(help_text="web: the push service URL; null otherwise.")
    token = serializers.SerializerMethodField(help_text="android / ios: the device token; null for web.")

    class Meta:
        model = PushSubscription
        fields = ["id", "profile_key", "platform", "token", "endpoint", "app_id", "created_at", "last_seen_at",
                  "active", "deactivated_at", "deactivated_reason"]

    def get_endpoint(self, obj: PushSubscription) -> str | None:
        return obj.token if obj.platform == PushPlatform.WEB else None

    def get_token(self, obj: PushSubscription) -> str | None:
        return None if obj.platform == PushPlatform.WEB else obj.token


class PushSubscriptionListApi(WorkspaceScopedMixin, GenericAPIView):
    queryset = PushSubscription.objects.all()
    serializer_class = PushSubscriptionOutput

    @extend_schema(tags=TAGS, operation_id="push_subscriptions_list", parameters=[ListInput],
                   responses=PushSubscriptionOutput(many=True),
                   description="The workspace's push devices, newest first (by profile, platform, active).")
    def get(self, request, workspace_slug):
        query = ListInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        qs = devices.push_subscription_list(workspace=self.workspace, **query.validated_data)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(PushSubscriptionOutput(page, many=True).data)

    @extend_schema(tags=TAGS, operation_id="push_subscriptions_register", request=RegisterInput,
                   responses={200: PushSubscriptionOutput, 201: PushSubscriptionOutput},
                   description="Registers a device for a profile: `token` for android (FCM) and ios (APNs), "
                               "`subscription` for web. The same platform and token again updates the device "
                               "(profile, app id, last seen) and makes it active again: 200; a new one: 201.")
    def post(self, request, workspace_slug):
        data = RegisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        sub, created = devices.push_subscription_register(workspace=self.workspace, **data.validated_data)
        return Response(PushSubscriptionOutput(sub).data, status=status.HTTP_201_CREATED if created else 200)


class PushSubscriptionUnregisterApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="push_subscriptions_unregister", request=UnregisterInput,
                   responses={200: PushSubscriptionOutput},
                   description="The app lost its token (the user logged out or turned push off): the device "
                               "stops getting messages; registering it again brings it back. 404: no such device.")
    def post(self, request, workspace_slug):
        data = UnregisterInput(data=request.data)
        data.is_valid(raise_exception=True)
        platform = data.validated_data["platform"]
        token = data.validated_data.get("endpoint" if platform == PushPlatform.WEB else "token", "").strip()
        if platform == PushPlatform.IOS:
            token = token.lower()
        sub = PushSubscription.objects.filter(workspace=self.workspace, platform=platform, token=token).first()
        if sub is None or not token:
            raise NotFound("No device with this platform and token in this workspace.")
        return Response(PushSubscriptionOutput(devices.push_subscription_deactivate(
            subscription=sub, reason="unregistered by the app")).data)


class PushSubscriptionDetailApi(WorkspaceScopedMixin, APIView):
    @extend_schema(tags=TAGS, operation_id="push_subscriptions_retrieve", responses=PushSubscriptionOutput)
    def get(self, request, workspace_slug, pk):
        return Response(PushSubscriptionOutput(devices.access_push_subscription(request.user, self.workspace,
                                                                                pk)).data)

    @extend_schema(tags=TAGS, operation_id="push_subscriptions_destroy", responses={204: None},
                   description="Forgets the device entirely (to unregister it and keep its history, use "
                               "unregister).")
    def delete(self, request, workspace_slug, pk):
        devices.access_push_subscription(request.user, self.workspace, pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
