"""One error body for the whole API.

Every 4xx/5xx answer is ``{"error": {"code": ..., "message": ..., "fields": {...}}}``: ``code`` is
machine-readable (``invalid``, ``not_found``, ``not_authenticated``, ``permission_denied``,
``throttled``, ...), ``message`` is for people, and ``fields`` maps field names to their messages
when the payload was invalid.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from installations.services import MembershipError


def _flatten(detail: Any) -> Any:
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    if isinstance(detail, dict):
        return {key: _flatten(value) for key, value in detail.items()}
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    elif isinstance(exc, MembershipError):
        exc = exceptions.PermissionDenied(str(exc))
    elif isinstance(exc, DjangoPermissionDenied):  # a service's reason, kept (DRF would drop it)
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    body: dict[str, Any] = {"code": "error", "message": ""}
    if isinstance(exc, exceptions.ValidationError):
        detail = _flatten(exc.detail)
        body["code"] = "invalid"
        if isinstance(detail, dict):
            non_field = detail.pop("non_field_errors", None)
            body["fields"] = detail
            body["message"] = (
                (non_field or ["The request has invalid fields."])[0] if detail or non_field else ""
            )
            if non_field:
                body["message"] = " ".join(non_field)
        else:
            body["message"] = " ".join(detail) if isinstance(detail, list) else str(detail)
    elif isinstance(exc, exceptions.APIException):
        codes = exc.get_codes()
        body["code"] = codes if isinstance(codes, str) else "error"
        body["message"] = str(exc.detail)
    if response.status_code == status.HTTP_405_METHOD_NOT_ALLOWED:
        body["code"] = "method_not_allowed"
    response.data = {"error": body}
    return response
