"""Errors shared by the services and the tasks that retry them."""


class WebhookDeliveryFailed(Exception):
    """A webhook POST failed in a way worth retrying."""
