"""One error body for the whole API: `{"field": ["message", ...]}`, whatever went wrong.

Field errors keep their field name (nested ones are dotted: `statement.url`, `tags.0`); errors
about the request as a whole use `detail` (401, 403, 404, 405, 413, 415, 429) or
`non_field_errors` (a combination of fields that is wrong). A lost database connection is
a 503 with Retry-After in the same shape (forecasts/middleware.py).
"""

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


def flatten_errors(errors, prefix: str = "") -> dict[str, list[str]]:
    """DRF's error structure (dicts, lists, nested serializers) as a flat {name: [messages]}."""
    if isinstance(errors, dict):
        flat: dict[str, list[str]] = {}
        for name, value in errors.items():
            for key, messages in flatten_errors(value, f"{prefix}.{name}" if prefix else str(name)).items():
                flat.setdefault(key, []).extend(messages)
        return flat
    if isinstance(errors, (list, tuple)):
        if all(not isinstance(item, (dict, list, tuple)) for item in errors):
            return {prefix or "non_field_errors": [str(item) for item in errors]} if errors else {}
        flat = {}
        for index, item in enumerate(errors):
            key = f"{prefix}.{index}" if prefix else str(index)
            for name, messages in flatten_errors(item, key).items():
                flat.setdefault(name, []).extend(messages)
        return flat
    return {prefix or "detail": [str(errors)]}


def api_exception_handler(exc, context):
    """DRF's handler, plus Django's own exceptions, with every body in the one shape."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, ObjectDoesNotExist):
        exc = exceptions.NotFound()
    elif isinstance(exc, RecursionError):
        # Python's json module gives up on a body nested thousands of levels deep with a
        # RecursionError: that is a malformed request, not a server fault.
        exc = exceptions.ParseError("JSON parse error - the body is nested too deeply.")
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = flatten_errors(response.data)
    return response


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """A JSON 404 for any path under /api/ that is not an endpoint."""
    return JsonResponse({"detail": ["No API endpoint at this path."]}, status=status.HTTP_404_NOT_FOUND)
