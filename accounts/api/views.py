"""Token authentication and the current user (``/api/v1/auth/token/``, ``/api/v1/me/``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, mixins, permissions, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.api.serializers import (
    ApiTokenSerializer,
    MeSerializer,
    TokenRequestSerializer,
    TokenSerializer,
)
from accounts.models import ApiToken
from accounts.tokens import AccountLocked, TokenRefused, issue_token
from portal.api.viewsets import TenantViewSetMixin


class ObtainTokenView(APIView):
    """Exchange an e-mail address and password (and the two-factor code, if the account uses
    one) for an API token; the rules are in ``accounts.tokens``."""

    authentication_classes: list[type] = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "token"

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenSerializer}, auth=[])
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            token, key = issue_token(
                request._request,
                data["username"],
                data["password"],
                data["code"],
                name=data["name"],
                expires_at=data["expires_at"],
                read_only=data["read_only"],
                installation_ids=data["installations"],
            )
        except AccountLocked as locked:
            throttled = exceptions.Throttled(detail=str(locked))  # the message says how long
            throttled.wait = locked.retry_after_s  # and Retry-After too
            raise throttled from None
        except TokenRefused as refused:
            detail = {refused.field: [str(refused)]} if refused.field else str(refused)
            raise exceptions.ValidationError(detail) from None
        token.token = key
        return Response(TokenSerializer(token).data, status=status.HTTP_200_OK)


class ApiTokenViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """The account's own API tokens (never their keys): list and revoke (DELETE). New ones come
    from ``POST /api/v1/auth/token/`` (password and two-factor code) or the account page."""

    queryset = ApiToken.objects.prefetch_related("installations")
    serializer_class = ApiTokenSerializer
    pagination_class = None
    filter_backends: list[type] = []

    def get_queryset(self):  # type: ignore[no-untyped-def]
        tokens = super().get_queryset()  # the user's own (ApiToken.tenant_filter)
        used = getattr(self.request, "auth", None)
        if isinstance(used, ApiToken) and (used.read_only or used.installations.exists()):
            # A limited token sees (and may revoke) itself only, not the account's others.
            tokens = tokens.filter(pk=used.pk)
        return tokens


class MeView(generics.RetrieveUpdateAPIView):
    """The authenticated user, with their memberships."""

    serializer_class = MeSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):  # type: ignore[no-untyped-def]
        return self.request.user
