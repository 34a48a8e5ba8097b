"""Who is calling: bearer tokens (API keys or JWTs) to a :class:`Principal`.

HTTP requests carry ``Authorization: Bearer <token>``. The SDK's bearer middleware hands
the token to :class:`PlanexecTokenVerifier`; a token it refuses gets the SDK's 401 with
``WWW-Authenticate``. Inside a handler,
``mcp.server.auth.middleware.auth_context.get_access_token()`` gives the
:class:`~mcp.server.auth.provider.AccessToken` back (both protocol eras) and
:func:`principal_from_token` turns it into the :class:`Principal` every store call is
scoped by.

- ``pxk_…`` tokens are API keys (:mod:`._auth_keys`): looked up by key id, the secret's
  hash compared in constant time, revoked keys refused. A ``pxk_`` token never falls
  through to JWT checking.
- Other tokens are JWTs (:mod:`._auth_jwt`), when JWT auth is configured; else refused.

A store that cannot answer (:class:`StoreUnavailable`) is *not* a bad key: the verifier
lets it propagate rather than return None (which would be a 401 telling the client its
key is wrong, and might make it discard a good key). The SDK does not catch it, so wrap
the HTTP app with :class:`StoreUnavailableMiddleware`, which answers
``503 Service Unavailable`` with ``Retry-After``::

    app = server.streamable_http_app(..., token_verifier=verifier)
    app.add_middleware(StoreUnavailableMiddleware)  # before the app serves a request

Without it the client gets a 500: still not a 401.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from mcp.server.auth.provider import AccessToken, TokenVerifier
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from planexec.store import Store, StoreUnavailable

from ._auth_jwt import AuthConfigError, JwtConfig, JwtVerifier, jwt_config_from
from ._auth_keys import KEY_PREFIX, create_api_key, list_api_keys, revoke_api_key, verify_api_key

__all__ = [
    "AuthConfigError",
    "JwtConfig",
    "PlanexecTokenVerifier",
    "Principal",
    "StoreUnavailableMiddleware",
    "create_api_key",
    "jwt_config_from",
    "list_api_keys",
    "principal_from_token",
    "revoke_api_key",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: the tenant whose data it may see, the user it acts as (None for a key
    made without one), its scopes, and the token's client id (the API key id, or
    ``jwt:<sub>``; None for a configured identity)."""

    tenant: str
    user: str | None
    scopes: frozenset[str]
    client_id: str | None = None


class PlanexecTokenVerifier(TokenVerifier):
    """The SDK's :class:`TokenVerifier` for planexec's API keys and, with ``jwt``, JWTs.

    Builds the JWT checker at once: :class:`AuthConfigError` for an unusable JWKS file.
    """

    def __init__(self, store: Store, jwt: JwtConfig | None = None) -> None:
        self._store = store
        self._jwt = JwtVerifier(jwt) if jwt is not None else None

    async def verify_token(self, token: str) -> AccessToken | None:
        """The access token for a valid bearer token; None for one that is malformed,
        unknown, revoked, expired or not yet valid, or signed with a key or algorithm not
        configured. Raises :class:`StoreUnavailable` when the store cannot answer.

        API keys: ``client_id`` is the key id, ``subject`` the key's user, no expiry.
        JWTs: ``client_id`` is ``jwt:<sub>``, ``subject`` the ``sub``, ``expires_at`` the
        ``exp`` plus the configured leeway (the SDK's bearer middleware refuses a token
        past ``expires_at`` on its own, without leeway). ``claims`` holds ``tenant`` and
        ``user`` (and ``iss`` for a JWT that has one).
        """
        if token.startswith(KEY_PREFIX):
            entry = await verify_api_key(self._store, token)
            if entry is None:
                logger.debug("API key refused (malformed, unknown, revoked or wrong secret)")
                return None
            return AccessToken(
                token=token,
                client_id=entry.key_id,
                scopes=list(entry.scopes),
                subject=entry.user,
                claims={"tenant": entry.tenant, "user": entry.user},
            )
        if self._jwt is None:
            return None
        claims = self._jwt.verify(token)
        if claims is None:
            logger.debug("JWT refused")
            return None
        extra = {"iss": claims.issuer} if claims.issuer is not None else {}
        return AccessToken(
            token=token,
            client_id=f"jwt:{claims.subject}",
            scopes=list(claims.scopes),
            expires_at=claims.expires_at + self._jwt.leeway_s,
            subject=claims.subject,
            claims={"tenant": claims.tenant, "user": claims.subject, **extra},
        )


def principal_from_token(token: AccessToken) -> Principal:
    """The principal of a token made by :class:`PlanexecTokenVerifier`. ValueError for an
    access token without a string ``tenant`` claim (one some other verifier made)."""
    claims = token.claims or {}
    tenant, user = claims.get("tenant"), claims.get("user")
    if not isinstance(tenant, str) or not tenant:
        raise ValueError("access token has no tenant claim: it was not made by PlanexecTokenVerifier")
    if user is not None and not isinstance(user, str):
        raise ValueError("access token's user claim is not a string")
    return Principal(tenant=tenant, user=user, scopes=frozenset(token.scopes), client_id=token.client_id)


class StoreUnavailableMiddleware:
    """ASGI middleware: a :class:`StoreUnavailable` that escapes the app before the
    response started (the store failing during token verification) becomes ``503`` with
    ``Retry-After`` and the body ``{"error": "temporarily_unavailable",
    "error_description": ...}``. Once a response has started, the error passes on."""

    def __init__(self, app: ASGIApp, retry_after_s: int = 5) -> None:
        self.app = app
        self.retry_after_s = retry_after_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except StoreUnavailable as error:
            if started:
                raise
            logger.warning("store unavailable while serving %s: %s", scope.get("path"), error)
            body = json.dumps(
                {"error": "temporarily_unavailable", "error_description": "the store is unavailable; retry"}
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", str(self.retry_after_s).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
