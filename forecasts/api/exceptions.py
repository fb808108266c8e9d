"""One error body for the whole API: `{"field": ["message", ...], "codes": {"field": ["code", ...]}}`.

Field errors keep their field name (nested ones are dotted: `statement.url`, `tags.0`); errors
about the request as a whole use `detail` (401, 403, 404, 405, 413, 415, 429) or
`non_field_errors` (a combination of fields that is wrong). `codes` has the same keys in the same
order, one stable machine-readable code per message (`required`, `unknown_field`,
`question_not_editable`...): the texts may be reworded, the codes do not change. A change that
the question's current state does not allow is a 409. A lost database connection is a 503 with
Retry-After in the same shape (forecasts/middleware.py).
"""

from django.core.exceptions import ObjectDoesNotExist, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from forecasts.exceptions import StateConflict

CODES_KEY = "codes"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


class Conflict(exceptions.ValidationError):
    """The request is well formed, but the object's current state does not allow it."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def flatten_error_details(errors, prefix: str = "") -> dict[str, list]:
    """DRF's error structure (dicts, lists, nested serializers) as a flat {name: [ErrorDetail]}."""
    if isinstance(errors, dict):
        flat: dict[str, list] = {}
        for name, value in errors.items():
            for key, details in flatten_error_details(value, f"{prefix}.{name}" if prefix else str(name)).items():
                flat.setdefault(key, []).extend(details)
        return flat
    if isinstance(errors, (list, tuple)):
        if all(not isinstance(item, (dict, list, tuple)) for item in errors):
            return {prefix or "non_field_errors": list(errors)} if errors else {}
        flat = {}
        for index, item in enumerate(errors):
            key = f"{prefix}.{index}" if prefix else str(index)
            for name, details in flatten_error_details(item, key).items():
                flat.setdefault(name, []).extend(details)
        return flat
    return {prefix or "detail": [errors]}


def error_body(errors, default_code: str = "invalid") -> dict:
    """The one error shape: the messages by name, and beside them `codes`, the same names with a code per message."""
    flat = flatten_error_details(errors)
    if CODES_KEY in flat:
        # Only an unknown field a client called `codes` can clash with the codes map.
        flat.setdefault("non_field_errors", []).extend(flat.pop(CODES_KEY))
    body: dict = {name: [str(detail) for detail in details] for name, details in flat.items()}
    body[CODES_KEY] = {
        name: [getattr(detail, "code", None) or default_code for detail in details] for name, details in flat.items()
    }
    return body


def message_body(message: str, code: str) -> dict:
    """An error about the request as a whole, in the one shape."""
    return error_body({"detail": ErrorDetail(message, code=code)})


def api_exception_handler(exc, context):
    """DRF's handler, plus Django's own exceptions, with every body in the one shape."""
    if isinstance(exc, StateConflict):
        exc = Conflict(detail=as_serializer_error(exc))
    elif isinstance(exc, DjangoValidationError):
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
        response.data = error_body(response.data, default_code=getattr(exc, "default_code", "invalid"))
    return response


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """A JSON 404 for any path under /api/ that is not an endpoint."""
    return JsonResponse(message_body("No API endpoint at this path.", "not_found"), status=status.HTTP_404_NOT_FOUND)
