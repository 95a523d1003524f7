"""Page-number pagination with a client-chosen page size (bounded), and cursor paging on request."""

from __future__ import annotations

from typing import Any

from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


class CursorOrPagePagination(pagination.BasePagination):
    """Page numbers (with a count) as everywhere, or a cursor when the client asks for one.

    A list that grows to millions of rows is paged by cursor (``?cursor=`` empty for the first
    page, then the ``next`` link): a range scan however deep, no count. Without ``cursor`` the
    answer is the usual page-number one, so existing clients keep working. ``ordering`` is the
    view's keyset order (newest first).
    """

    ordering: tuple[str, ...] = ("-created_at", "-id")
    cursor_query_param = "cursor"

    def _delegate(self, request: Any) -> pagination.BasePagination:
        if self.cursor_query_param in request.query_params:
            cursor = pagination.CursorPagination()
            cursor.ordering = self.ordering
            cursor.page_size_query_param = "page_size"
            cursor.max_page_size = PageNumberPagination.max_page_size
            cursor.page_size = PageNumberPagination().page_size
            return cursor
        return PageNumberPagination()

    def paginate_queryset(self, queryset: Any, request: Any, view: Any = None) -> Any:
        self.delegate = self._delegate(request)
        return self.delegate.paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data: Any) -> Any:
        return self.delegate.get_paginated_response(data)

    def get_paginated_response_schema(self, schema: Any) -> Any:
        page = PageNumberPagination().get_paginated_response_schema(schema)
        page["required"] = ["results"]
        page["properties"]["count"]["description"] = "Only when paging by page number."
        return page

    def get_schema_operation_parameters(self, view: Any) -> list[Any]:
        parameters: list[Any] = PageNumberPagination().get_schema_operation_parameters(view)
        parameters.append(
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Page by cursor instead of page number: empty for the first "
                "page, then follow `next`. No `count`; fast at any depth.",
                "schema": {"type": "string"},
            }
        )
        return parameters
