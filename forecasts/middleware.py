"""Request and response wrapping: a lost database connection answers 503; signed-in API answers are never cached.

A lost database connection is the server's problem for a moment, not the client's fault.

When PostgreSQL restarts, fails over or a proxy drops the connection, a request fails with
OperationalError or InterfaceError. The client gets a 503 with Retry-After (and the one error
shape under /api/) instead of a 500; the transaction the request was in never committed, so
nothing is half-written, and the next request opens a fresh connection.
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
MESSAGE = "The database is unavailable for a moment; retry shortly."


def database_unavailable_response(request) -> HttpResponse:
    """A 503 with a retry hint: JSON under /api/ or when JSON is asked for, a short page otherwise."""
    wants_json = request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")
    if wants_json:
        response = JsonResponse({"detail": [MESSAGE], "codes": {"detail": ["database_unavailable"]}}, status=503)
    else:
        response = HttpResponse(
            f"<!doctype html><title>Service unavailable</title><h1>Service unavailable</h1><p>{MESSAGE}</p>",
            status=503,
            content_type="text/html; charset=utf-8",
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
