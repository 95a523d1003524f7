"""Token authentication and the current user (``/api/v1/auth/token/``, ``/api/v1/me/``)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, permissions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.api.serializers import MeSerializer, TokenRequestSerializer, TokenSerializer
from accounts.tokens import AccountLocked, TokenRefused, issue_token


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
            token = issue_token(request._request, data["username"], data["password"], data["code"])
        except AccountLocked as locked:
            throttled = exceptions.Throttled(detail=str(locked))  # the message says how long
            throttled.wait = locked.retry_after_s  # and Retry-After too
            raise throttled from None
        except TokenRefused as refused:
            detail = {refused.field: [str(refused)]} if refused.field else str(refused)
            raise exceptions.ValidationError(detail) from None
        return Response({"token": token.key}, status=status.HTTP_200_OK)


class MeView(generics.RetrieveUpdateAPIView):
    """The authenticated user, with their memberships."""

    serializer_class = MeSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):  # type: ignore[no-untyped-def]
        return self.request.user
