"""Content negotiation for the API: ``?format=`` naming no renderer is a 400 that says so.

DRF treats ``?format=`` as a renderer override and answers an unknown value with a bare 404, as if
the resource did not exist: a client asking ``/api/v1/sessions/?format=csv`` would conclude the
sessions are gone. Here it is a 400 naming the parameter, the renderers this endpoint has and,
for files, where they are. Endpoints whose ``format`` is a file format of their own (exports,
energy, signed data) keep their own negotiation.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request

FILES_HINT = "CSV and Excel files: /api/v1/reports/export/?kind=sessions|usage&format=csv|xlsx."


class FormatParameterNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: list[Any], format_suffix: Any = None
    ) -> Any:
        wanted = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        if wanted and not any(renderer.format == wanted for renderer in renderers):
            known = ", ".join(sorted({renderer.format for renderer in renderers}))
            raise ValidationError(
                {
                    "format": [
                        f"Unknown format {wanted[:20]!r}; this endpoint answers {known}. "
                        + FILES_HINT
                    ]
                }
            )
        return super().select_renderer(request, renderers, format_suffix)
