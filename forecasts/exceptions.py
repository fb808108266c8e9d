"""Errors shared by the services and the tasks that retry them."""

from django.core.exceptions import ValidationError


class WebhookDeliveryFailed(Exception):
    """A webhook POST failed in a way worth retrying."""


class StateConflict(ValidationError):
    """A change the question's current state does not allow (editing a resolved question); a 409 in the API.

    A ValidationError still, so the admin and every caller that catches those show the message as before.
    """

    def __init__(self, field: str, message: str, code: str):
        super().__init__({field: ValidationError(message, code=code)})
