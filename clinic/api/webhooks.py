"""An integration's webhook endpoints over the API: register, list, remove, and read what
was delivered to each. Staff accounts have no webhooks (an administrator sees them in the
admin, where a delivery can be replayed)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.errors import ErrorCode
from clinic.access import NOT_FOUND_MESSAGE
from clinic.api.auth import scoped
from clinic.api.errors import ApiError
from clinic.api.idempotency import idempotent
from clinic.models import Integration, User, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from clinic.scopes import Scope, WebhookEvent
from clinic.services.webhooks import webhook_endpoint_register, webhook_endpoint_remove

DELIVERIES_SHOWN = 50
INTEGRATIONS_ONLY_MESSAGE = "Webhooks belong to integrations: call with an integration's key."


class WebhookEndpointSerializer(serializers.ModelSerializer[WebhookEndpoint]):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEvent.choices), min_length=1
    )

    class Meta:
        model = WebhookEndpoint
        fields: tuple[str, ...] = ("id", "url", "events", "is_active", "created_at")
        read_only_fields = ("id", "is_active", "created_at")


class RegisteredEndpointSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="the signing secret: shown this once, keep it safe"
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = (*WebhookEndpointSerializer.Meta.fields, "secret")


class WebhookAttemptSerializer(serializers.ModelSerializer[WebhookAttempt]):
    class Meta:
        model = WebhookAttempt
        fields = ("at", "status_code", "response_excerpt", "error", "duration_ms")


class WebhookDeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "event_id",
            "event",
            "payload",
            "status",
            "attempts",
            "next_attempt_at",
            "delivered_at",
            "created_at",
            "attempt_log",
        )


def _integration(request: Request) -> Integration:
    user = request.user
    if not isinstance(user, User) or not user.is_integration:
        raise ApiError(ErrorCode.PERMISSION_DENIED, INTEGRATIONS_ONLY_MESSAGE, status_code=403)
    return user.integration


def _endpoint(request: Request, endpoint_id: str) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(
        id=endpoint_id, integration=_integration(request), is_active=True
    ).first()
    if endpoint is None:
        raise ApiError(ErrorCode.NOT_FOUND, NOT_FOUND_MESSAGE, status_code=404)
    return endpoint


class WebhookEndpoints(APIView):
    required_scopes = scoped(GET=Scope.WEBHOOKS_MANAGE, POST=Scope.WEBHOOKS_MANAGE)

    @extend_schema(responses=WebhookEndpointSerializer(many=True))
    def get(self, request: Request) -> Response:
        endpoints = WebhookEndpoint.objects.filter(
            integration=_integration(request), is_active=True
        )
        return Response(WebhookEndpointSerializer(endpoints, many=True).data)

    @extend_schema(
        request=WebhookEndpointSerializer,
        responses={201: RegisteredEndpointSerializer},
        description="Register an endpoint for events. Deliveries are signed with the returned "
        "secret (docs/api.md, Webhooks).",
    )
    @idempotent()
    def post(self, request: Request) -> Response:
        integration = _integration(request)
        incoming = WebhookEndpointSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        registered = webhook_endpoint_register(
            integration=integration,
            url=incoming.validated_data["url"],
            events=incoming.validated_data["events"],
            registered_by=integration.account,
        )
        body: dict[str, Any] = {
            **WebhookEndpointSerializer(registered.endpoint).data,
            "secret": registered.secret,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookEndpointDetail(APIView):
    required_scopes = scoped(DELETE=Scope.WEBHOOKS_MANAGE)

    @extend_schema(responses={204: OpenApiResponse(description="removed")})
    def delete(self, request: Request, endpoint_id: str) -> Response:
        endpoint = _endpoint(request, endpoint_id)
        webhook_endpoint_remove(endpoint=endpoint, removed_by=endpoint.integration.account)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveries(APIView):
    required_scopes = scoped(GET=Scope.WEBHOOKS_MANAGE)

    @extend_schema(responses=WebhookDeliverySerializer(many=True))
    def get(self, request: Request, endpoint_id: str) -> Response:
        endpoint = _endpoint(request, endpoint_id)
        deliveries = endpoint.deliveries.prefetch_related("attempt_log")[:DELIVERIES_SHOWN]
        return Response(WebhookDeliverySerializer(deliveries, many=True).data)
