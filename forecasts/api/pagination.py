"""Page numbers for lists a person browses; a cursor for the forecast stream, which never counts."""

from rest_framework.pagination import CursorPagination, PageNumberPagination


class PagePagination(PageNumberPagination):
    """`?page=2&page_size=100`: 50 rows by default, at most 200."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ForecastCursorPagination(CursorPagination):
    """Keyset pages over (made_at, id): no COUNT(*) and no OFFSET, however many forecasts there are."""

    ordering = ("made_at", "id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000
