"""Request and response wrapping: a lost database connection answers 503; signed-in API answers are never cached.

A lost database connection is the server's problem for a moment, not the client's fault.

When PostgreSQL restarts, fails over or a proxy drops the connection, a request fails with
OperationalError or InterfaceError. The client gets a 503 with Retry-After (and the one error
shape under /api/) instead of a 500; the transaction the request was in never committed, so
nothing is half-written, and the next request opens a fresh connection.
"""

import json
import logging

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.html import escape
from rest_framework.exceptions import ErrorDetail

from forecasts.api.exceptions import error_body

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
MESSAGE = "The database is unavailable for a moment; retry shortly."


def error_response(request, *, status: int, title: str, field: str, message: str, code: str) -> HttpResponse:
    """The API's error shape under /api/ or when JSON is asked for; a short page otherwise."""
    if request.path_info.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(error_body({field: ErrorDetail(message, code=code)}), status=status)
    where = "" if field == "detail" else f" (in {escape(field)})"
    return HttpResponse(
        f"<!doctype html><title>{title}</title><h1>{title}</h1><p>{message}{where}</p>",
        status=status,
        content_type="text/html; charset=utf-8",
    )


def database_unavailable_response(request) -> HttpResponse:
    """A 503 with a retry hint."""
    response = error_response(
        request, status=503, title="Service unavailable", field="detail", message=MESSAGE, code="database_unavailable"
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class DatabaseUnavailableMiddleware:
    """Answer a request whose database connection failed with a 503 and Retry-After, not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, (OperationalError, InterfaceError)):
            logger.warning("Database unavailable during %s %s: %s", request.method, request.path, exception)
            return database_unavailable_response(request)
        return None


NULL_BYTE_MESSAGE = "The request contains a null byte."
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def contains_null_byte(value) -> bool:
    """Whether a decoded JSON document holds a NUL in any key or string, however deeply nested."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def field_with_null_byte(pairs) -> str | None:
    """The first name (of a query or form parameter) whose name or values hold a NUL."""
    for key, values in pairs:
        if "\x00" in key:
            return "detail"
        if any("\x00" in value for value in values):
            return key
    return None


def json_field_with_null_byte(document) -> str | None:
    """The top-level key of a JSON document under which a NUL hides, or "detail" for the rest."""
    if isinstance(document, dict):
        for key, value in document.items():
            if "\x00" in key:
                return "detail"
            if contains_null_byte(value):
                return key
        return None
    return "detail" if contains_null_byte(document) else None


def null_byte_field(request) -> str | None:
    """Where the request carries a NUL: a parameter's name, "detail" for the path or a header, else None."""
    if "\x00" in request.path_info:
        return "detail"
    if any("\x00" in str(value) for name, value in request.META.items() if name.startswith("HTTP_")):
        return "detail"
    field = field_with_null_byte(request.GET.lists())
    if field or request.method in ("GET", "HEAD", "OPTIONS"):
        return field
    content_type = request.content_type or ""
    if content_type in FORM_CONTENT_TYPES:
        # A form too big or with too many fields raises here, and Django answers it with a 400
        # (it would mark the form parsed and empty if the error were swallowed).
        return field_with_null_byte(request.POST.lists())
    if content_type == "application/json" or content_type.endswith("+json"):
        # Only a body holding a NUL or its JSON escape is parsed here: every other write is parsed
        # once, by the view, as before.
        try:
            if b"\x00" not in request.body and b"\\u0000" not in request.body:
                return None
            return json_field_with_null_byte(json.loads(request.body))
        except (RequestDataTooBig, UnicodeDecodeError, ValueError, RecursionError):
            # Too big, malformed or undecodable: the API's parser answers that (413 or 400).
            return None
    return None


def null_byte_response(request, field: str) -> HttpResponse:
    """A 400 naming the field."""
    return error_response(
        request, status=400, title="Bad request", field=field, message=NULL_BYTE_MESSAGE, code="null_byte"
    )


class NullByteMiddleware:
    """Refuse any request carrying a NUL with a 400: PostgreSQL cannot store one in text, so a NUL
    that reached a query (a filter, a lookup, an autocomplete term) was a DataError and a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        field = null_byte_field(request)
        if field is not None:
            logger.info("Refused a request with a null byte: %s %r", request.method, request.path_info[:200])
            return null_byte_response(request, field)
        return self.get_response(request)


class NoStoreForAuthenticatedApiMiddleware:
    """`Cache-Control: no-store` on every API answer to a signed-in caller or one that sent credentials."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/api/"):
            # DRF writes the user its authentication found back onto the Django request.
            user = getattr(request, "user", None)
            signed_in = user is not None and user.is_authenticated
            if signed_in or "Authorization" in request.headers or request.path.startswith("/api/auth/"):
                response["Cache-Control"] = "no-store"
        return response
