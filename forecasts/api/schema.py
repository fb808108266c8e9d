"""OpenAPI generation: every operation also documents the error responses it can give, in the one shape."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework.permissions import AllowAny

ERROR_SCHEMA = {
    "type": "object",
    "description": (
        'What was wrong, by field: `{"field": ["message"]}`. Errors about the whole request use '
        "`detail`; a wrong combination of fields uses `non_field_errors`; nested fields are dotted."
    ),
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "example": {"window_end": ["The window cannot end before it starts."]},
}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input (a field-level message per field).",
    "401": "No credentials, or invalid ones.",
    "403": "Signed in, but not allowed to do this.",
    "404": "No such object, or one you cannot see.",
    "413": "Request body too large.",
    "429": "Too many requests; see the Retry-After header.",
}
BODY_METHODS = {"POST", "PUT", "PATCH"}


class ForewarnAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus the API's error responses."""

    def error_codes(self) -> list[str]:
        codes = ["400", "404", "429"]
        if self.method in BODY_METHODS:
            codes.append("413")
        if not all(isinstance(permission, AllowAny) for permission in self.view.get_permissions()):
            codes += ["401", "403"]
        return sorted(codes)

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
        return responses
