"""API tokens that expire: older than FOREWARN_API_TOKEN_MAX_AGE_DAYS, a token answers 401."""

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from forecasts.services import api_token_expired, api_token_max_age


def expired_message() -> str:
    return (
        f"This API token has expired: tokens work for {api_token_max_age().days} days. "
        "Get a new one with POST /api/auth/token/."
    )


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing a token past its maximum age with a message saying so."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if api_token_expired(token):
            raise AuthenticationFailed(expired_message())
        return user, token
