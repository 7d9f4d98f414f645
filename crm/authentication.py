"""API token authentication: knox's, refusing malformed tokens with a 401."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework import exceptions

from crm.language import activate_for_token


class TokenAuthentication(KnoxTokenAuthentication):
    """Knox tokens are ASCII hex: anything else (invalid UTF-8, a NUL byte that
    PostgreSQL would refuse in a query) is an invalid token, not a crash.

    The token's user is known only here, after the middleware that applies a
    session user's saved language: it is applied now (``crm.language``).
    """

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            # The Django request, which LocaleMiddleware's response reads.
            activate_for_token(request._request, result[0])
        return result

    def authenticate_credentials(self, token: bytes):
        if not token.isascii() or not token.decode().isprintable():
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        return super().authenticate_credentials(token)


class TokenScheme(KnoxTokenScheme):
    """Documents the scheme in the OpenAPI schema, as knox's own."""

    target_class = TokenAuthentication
