"""JWT bearer tokens: HS256 with a shared secret, or asymmetric keys from a local JWKS file.

Which key checks a token is decided by configuration, never by the token alone
(RFC 8725 §2.1, §3.1):

- ``alg: HS256`` is checked with the shared secret, and only when one is configured;
- ``alg`` RS*/PS*/ES*/EdDSA is checked with a JWKS key whose own algorithm (its ``alg``
  member, else what its ``kty``/``crv`` imply) is exactly that ``alg``: the key named by
  the token's ``kid``, or, without a ``kid``, the only key of that algorithm;
- anything else (``none``, HS384, an HS256 token when only a JWKS is configured, an RS256
  token when only a secret is) is refused. A JWKS file may hold only public asymmetric
  keys: a symmetric (``oct``) or private key in it is a configuration error.

Claims: ``exp`` and ``sub`` (a non-empty string) are required, and so is the tenant claim
(``tenant_claim``, a non-empty string); ``nbf`` and ``iat`` are checked when present;
all with ``leeway_s`` of clock skew. With ``audience`` set, ``aud`` must hold it; without,
a token that carries an ``aud`` is refused (it was meant for someone else). With
``issuer`` set, ``iss`` must equal it. Scopes come from ``scope`` (space-separated string)
or else ``scp`` (a list of strings, or a space-separated string).

No network: the JWKS file is read once, when the verifier is built; rotate keys by
updating the file and restarting.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from ._config import ConfigError

__all__ = ["AuthConfigError", "JwtClaims", "JwtConfig", "JwtVerifier", "jwt_config_from"]

logger = logging.getLogger(__name__)

_ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
_MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key of at least 256 bits
_MAX_TOKEN_CHARS = 16_384
_MAX_TENANT = 256


class AuthConfigError(ConfigError):
    """Authentication is configured in a way planexec cannot use (the integrator's mistake)."""


@dataclass(frozen=True, slots=True)
class JwtConfig:
    """How JWTs are checked (see the module docstring). At least one of ``secret`` and
    ``jwks_file``; both may be set (HS256 tokens then go to the secret, the others to the
    JWKS). :class:`AuthConfigError` when the values cannot work."""

    secret: str | None = field(default=None, repr=False)  # never in logs or tracebacks
    jwks_file: Path | None = None
    tenant_claim: str = "tenant"
    audience: str | None = None
    issuer: str | None = None
    leeway_s: int = 30

    def __post_init__(self) -> None:
        if self.secret is None and self.jwks_file is None:
            raise AuthConfigError("JWT auth needs PLANEXEC_JWT_SECRET or PLANEXEC_JWT_JWKS_FILE")
        if self.secret is not None and len(self.secret.encode()) < _MIN_SECRET_BYTES:
            raise AuthConfigError(
                f"PLANEXEC_JWT_SECRET must be at least {_MIN_SECRET_BYTES} bytes for HS256 "
                "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
        if not self.tenant_claim:
            raise AuthConfigError("PLANEXEC_JWT_TENANT_CLAIM must not be empty")
        if not 0 <= self.leeway_s <= 300:
            raise AuthConfigError(f"JWT leeway must be 0 to 300 seconds, got {self.leeway_s}")


def jwt_config_from(
    secret: str | None = None,
    jwks_file: str | Path | None = None,
    tenant_claim: str | None = None,
    audience: str | None = None,
    issuer: str | None = None,
    leeway_s: int | None = None,
) -> JwtConfig | None:
    """A :class:`JwtConfig` from settings values (``PLANEXEC_JWT_SECRET``,
    ``PLANEXEC_JWT_JWKS_FILE``, ``PLANEXEC_JWT_TENANT_CLAIM``, ``PLANEXEC_JWT_AUDIENCE``,
    ``PLANEXEC_JWT_ISSUER``, ``PLANEXEC_JWT_LEEWAY_S``), or None when neither a secret nor a
    JWKS file is given (JWTs are then refused). Empty strings count as not given. Reads no
    environment. :class:`AuthConfigError` when the other values are set without a secret
    or JWKS file, or the values cannot work."""
    secret = secret or None
    jwks = Path(jwks_file) if jwks_file else None
    if secret is None and jwks is None:
        given = {"TENANT_CLAIM": tenant_claim, "AUDIENCE": audience, "ISSUER": issuer}
        stray = [name for name, value in given.items() if value]
        if stray:
            names = ", ".join(f"PLANEXEC_JWT_{name}" for name in stray)
            raise AuthConfigError(f"{names} set, but neither PLANEXEC_JWT_SECRET nor PLANEXEC_JWT_JWKS_FILE")
        return None
    return JwtConfig(
        secret=secret,
        jwks_file=jwks,
        tenant_claim=tenant_claim or "tenant",
        audience=audience or None,
        issuer=issuer or None,
        leeway_s=30 if leeway_s is None else leeway_s,
    )


@dataclass(frozen=True, slots=True)
class JwtClaims:
    """What a verified JWT says about its bearer."""

    subject: str
    tenant: str
    scopes: tuple[str, ...]
    expires_at: int
    issuer: str | None


def _load_jwks(path: Path) -> list[jwt.PyJWK]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise AuthConfigError(f"JWKS file {str(path)!r} cannot be read as JSON: {error}") from None
    members = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(members, list) or not members:
        raise AuthConfigError(f"JWKS file {str(path)!r} must be an object with a non-empty 'keys' list")
    keys: list[jwt.PyJWK] = []
    for index, member in enumerate(members):
        where = f"JWKS file {str(path)!r}, key {index}"
        if not isinstance(member, dict):
            raise AuthConfigError(f"{where}: not a JSON object")
        if member.get("kty") == "oct":
            raise AuthConfigError(
                f"{where}: symmetric keys are not allowed; use PLANEXEC_JWT_SECRET for HS256"
            )
        if "d" in member:
            raise AuthConfigError(f"{where}: holds a private key; publish only the public part")
        if member.get("use", "sig") != "sig":
            continue  # an encryption key: never used to check signatures
        try:
            key = jwt.PyJWK(member)
        except jwt.PyJWTError as error:
            raise AuthConfigError(f"{where}: {error}") from None
        if key.algorithm_name not in _ASYMMETRIC:
            raise AuthConfigError(f"{where}: algorithm {key.algorithm_name!r} is not supported")
        keys.append(key)
    if not keys:
        raise AuthConfigError(f"JWKS file {str(path)!r} holds no signing key")
    return keys


class JwtVerifier:
    """Checks JWTs against a :class:`JwtConfig` (see the module docstring). Building one
    reads the JWKS file; :class:`AuthConfigError` when it is unusable."""

    def __init__(self, config: JwtConfig) -> None:
        self._config = config
        self._jwks = _load_jwks(config.jwks_file) if config.jwks_file is not None else []

    @property
    def leeway_s(self) -> int:
        return self._config.leeway_s

    def _key_for(self, header: Mapping[str, Any]) -> tuple[Any, str] | None:
        """The key and the one algorithm allowed for a token with this header, or None."""
        alg = header.get("alg")
        if alg == "HS256" and self._config.secret is not None:
            return self._config.secret, "HS256"
        if not isinstance(alg, str) or alg not in _ASYMMETRIC:
            return None
        kid = header.get("kid")
        if kid is not None:
            named = [key for key in self._jwks if key.key_id == kid]
        else:
            named = [key for key in self._jwks if key.algorithm_name == alg]
        if len(named) != 1 or named[0].algorithm_name != alg:
            return None
        return named[0], alg

    def verify(self, token: str) -> JwtClaims | None:
        """The claims of a valid token, or None (the reason is logged at debug level)."""
        if len(token) > _MAX_TOKEN_CHARS:
            return None
        config = self._config
        try:
            header = jwt.get_unverified_header(token)
            chosen = self._key_for(header)
            if chosen is None:
                alg, kid = header.get("alg"), header.get("kid")
                logger.debug("JWT refused: no configured key for alg=%r kid=%r", alg, kid)
                return None
            key, algorithm = chosen
            require = ["exp", "sub", config.tenant_claim]
            require += ["aud"] if config.audience is not None else []
            require += ["iss"] if config.issuer is not None else []
            payload = jwt.decode(
                token,
                key=key,
                algorithms=[algorithm],
                audience=config.audience,
                issuer=config.issuer,
                leeway=config.leeway_s,
                options={"require": require},
            )
        except jwt.PyJWTError as error:
            logger.debug("JWT refused: %s", error)
            return None
        return _claims(payload, config)


def _claims(payload: Mapping[str, Any], config: JwtConfig) -> JwtClaims | None:
    subject, tenant = payload["sub"], payload[config.tenant_claim]
    if not isinstance(subject, str) or not subject:
        logger.debug("JWT refused: 'sub' must be a non-empty string")
        return None
    if not isinstance(tenant, str) or not 0 < len(tenant) <= _MAX_TENANT:
        logger.debug(
            "JWT refused: %r must be a string of 1 to %d characters", config.tenant_claim, _MAX_TENANT
        )
        return None
    scopes = _scopes(payload)
    if scopes is None:
        logger.debug("JWT refused: 'scope' must be a string, 'scp' a string or a list of strings")
        return None
    issuer = payload.get("iss")
    return JwtClaims(
        subject=subject,
        tenant=tenant,
        scopes=scopes,
        expires_at=int(payload["exp"]),
        issuer=issuer if isinstance(issuer, str) else None,
    )


def _scopes(payload: Mapping[str, Any]) -> tuple[str, ...] | None:
    """Scopes from ``scope``, else ``scp``; None when the claim is malformed."""
    raw = payload["scope"] if "scope" in payload else payload.get("scp", [])
    if isinstance(raw, str):
        return tuple(dict.fromkeys(raw.split()))
    if isinstance(raw, list) and all(isinstance(scope, str) and scope and " " not in scope for scope in raw):
        return tuple(dict.fromkeys(raw))
    return None
