"""OpenAPI generation: every operation also documents the error responses it can give, in the one shape.

The schema is what client generators read, so it names every status an operation can answer
(401 for a stale token header even where no login is needed, 409, 503 with Retry-After...), gives
the two kinds of page distinct component names, and forbids unknown fields in request bodies.
"""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny

from forecasts.api.serializers import RejectUnknownFieldsMixin

MESSAGES_SCHEMA = {"type": "array", "items": {"type": "string"}}
ERROR_SCHEMA = {
    "type": "object",
    "description": (
        'What was wrong, by field: `{"field": ["message"], "codes": {"field": ["code"]}}`. Errors about '
        "the whole request use `detail`; a wrong combination of fields uses `non_field_errors`; nested "
        "fields are dotted. `codes` has the same keys, one stable machine-readable code per message."
    ),
    "properties": {
        "codes": {
            "type": "object",
            "description": "The same keys as the messages, with one stable code per message (`required`, `unknown_field`...).",
            "additionalProperties": MESSAGES_SCHEMA,
        }
    },
    "required": ["codes"],
    "additionalProperties": MESSAGES_SCHEMA,
    "example": {"window_end": ["The window cannot end before it starts."], "codes": {"window_end": ["invalid"]}},
}
RETRY_AFTER_HEADER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input (a field-level message per field; unknown and read-only fields are named too).",
    "401": "No credentials, or invalid ones (also a stale `Authorization` header where none is needed).",
    "403": "Signed in, but not allowed to do this (or a session without its CSRF token).",
    "404": "No such object, or one you cannot see.",
    "405": "This method is not offered at this path.",
    "406": "The `Accept` header asks for a format this endpoint does not give.",
    "409": "The object's current state does not allow this (e.g. editing a resolved question); see `codes`.",
    "413": "Request body too large.",
    "415": "The body is not `application/json`.",
    "429": "Too many requests; see the Retry-After header.",
    "503": "The database is unavailable for a moment; see the Retry-After header.",
}
ERROR_HEADERS = {"429": RETRY_AFTER_HEADER, "503": RETRY_AFTER_HEADER}
BODY_METHODS = {"POST", "PUT", "PATCH"}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Writes the question's state may refuse with a 409.
CONFLICT_PATHS = ("/api/questions/{id}/",)
CONFLICT_SUFFIXES = ("/forecasts/", "/resolve/", "/unresolve/")


class ForewarnAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the API's error responses."""

    def error_codes(self) -> list[str]:
        codes = ["400", "404", "405", "429", "503"]
        if self.method in BODY_METHODS:
            codes += ["413", "415"]
        from forecasts.api.stats import SvgApiView  # the stats views import this module's package

        if not isinstance(self.view, SvgApiView):  # an image answers whatever Accept asks for
            codes.append("406")
        authenticators = self.view.get_authenticators()
        if authenticators:
            codes.append("401")
        session = any(isinstance(authenticator, SessionAuthentication) for authenticator in authenticators)
        if (session and self.method in UNSAFE_METHODS) or not all(
            isinstance(permission, AllowAny) for permission in self.view.get_permissions()
        ):
            codes.append("403")
        if self.method in UNSAFE_METHODS and (
            self.path in CONFLICT_PATHS
            or (self.path.startswith("/api/questions/") and self.path.endswith(CONFLICT_SUFFIXES))
        ):
            codes.append("409")
        return sorted(codes)

    def get_paginated_name(self, serializer_name: str) -> str:
        # A cursor page has no `count`: it must not share a name with the page-number page.
        if isinstance(self._get_paginator(), CursorPagination):
            return f"Cursor{serializer_name}Page"
        return super().get_paginated_name(serializer_name)

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        if direction == "request" and isinstance(serializer, RejectUnknownFieldsMixin):
            schema["additionalProperties"] = False
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        component = ResolvedComponent(name="Error", type=ResolvedComponent.SCHEMA, object="Error", schema=ERROR_SCHEMA)
        self.registry.register_on_missing(component)
        for code in self.error_codes():
            if code not in responses:
                responses[code] = {
                    "content": {"application/json": {"schema": component.ref}},
                    "description": ERROR_DESCRIPTIONS[code],
                }
                if code in ERROR_HEADERS:
                    responses[code]["headers"] = ERROR_HEADERS[code]
        return responses
