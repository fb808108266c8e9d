"""API tokens that expire: older than FOREWARN_API_TOKEN_MAX_AGE_DAYS, a token answers 401.

The token, its user and the user's permissions come in one query: the permission checks of the
request (may this user create? is this user a moderator?) then read the loaded names instead of
asking the database twice per request.
"""

from django.contrib.auth.models import Permission
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import CharField, OuterRef, Value
from django.db.models.functions import Concat
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from forecasts.services import api_token_expired, api_token_max_age


def expired_message() -> str:
    return (
        f"This API token has expired: tokens work for {api_token_max_age().days} days. "
        "Get a new one with POST /api/auth/token/."
    )


def permission_names(permissions) -> ArraySubquery:
    """The `app_label.codename` names of `permissions`, as an array subquery (PostgreSQL)."""
    name = Concat("content_type__app_label", Value("."), "codename", output_field=CharField())
    return ArraySubquery(permissions.annotate(full_name=name).values("full_name"))


def token_with_permissions(key: str) -> Token | None:
    """The token of `key` with its user; on PostgreSQL with the user's permission names loaded too."""
    tokens = Token.objects.select_related("user")
    if connection.vendor == "postgresql":
        tokens = tokens.annotate(
            user_permission_names=permission_names(Permission.objects.filter(user=OuterRef("user_id"))),
            group_permission_names=permission_names(Permission.objects.filter(group__user=OuterRef("user_id"))),
        )
    return tokens.filter(key=key).first()


def permission_caches_fill(user, token: Token) -> None:
    """Fill the caches Django's ModelBackend keeps on a user, so `has_perm` asks no query."""
    if user.is_superuser or not hasattr(token, "user_permission_names"):
        return  # a superuser's has_perm never reads them; elsewhere the backend queries as usual
    user._user_perm_cache = set(token.user_permission_names)
    user._group_perm_cache = set(token.group_permission_names)
    user._perm_cache = user._user_perm_cache | user._group_perm_cache


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing a token past its maximum age with a message saying so."""

    def authenticate_credentials(self, key):
        token = token_with_permissions(key)
        if token is None:
            raise AuthenticationFailed(_("Invalid token."))
        user = token.user
        if not user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        if api_token_expired(token):
            raise AuthenticationFailed(expired_message())
        permission_caches_fill(user, token)
        return user, token
