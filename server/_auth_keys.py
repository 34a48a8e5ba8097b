"""planexec API keys: ``pxk_<key_id>_<secret>``, stored hashed only.

- ``key_id``: 16 characters from ``[A-Za-z0-9]`` (about 95 random bits). It is an
  identifier, not a secret: ``keys list`` shows it, logs may name it, and it is the
  ``client_id`` of the :class:`~mcp.server.auth.provider.AccessToken`. It holds no ``_``,
  so the first ``_`` after the prefix ends it.
- ``secret``: ``secrets.token_urlsafe(32)`` (32 random bytes, 43 characters; may hold
  ``_`` and ``-``).
- ``key_hash``: ``"sha256$" + hex(SHA-256(secret))``. No slow hash (bcrypt, argon2): those
  protect low-entropy passwords against guessing, and a 256-bit random secret cannot be
  guessed; a slow hash would only add its cost to every request. No pepper: it would add a
  secret that every replica must share, and buys nothing against a 256-bit secret. The
  ``sha256$`` tag leaves room for another scheme later (an HMAC with a pepper, say); a
  stored hash with an unknown tag never verifies.
- Verification compares digests with :func:`hmac.compare_digest` (constant time).

Keys do not expire; revoking one (:func:`revoke_api_key`) refuses it from then on.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from planexec.store import ApiKeyEntry, Conflict, NotFound, Store

__all__ = [
    "KEY_PREFIX",
    "ParsedKey",
    "create_api_key",
    "hash_secret",
    "list_api_keys",
    "parse_api_key",
    "revoke_api_key",
    "secret_matches",
    "validate_scopes",
    "verify_api_key",
]

KEY_PREFIX = "pxk_"
_HASH_SCHEME = "sha256$"
_KEY_ID_ALPHABET = string.ascii_letters + string.digits
_KEY_ID_LENGTH = 16
_SECRET_BYTES = 32
_KEY_ID = re.compile(r"[A-Za-z0-9]{12,64}")
_SECRET = re.compile(r"[A-Za-z0-9_-]{32,128}")
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")  # RFC 6749 §3.3 scope-token
_MAX_TENANT = 256


@dataclass(frozen=True, slots=True)
class ParsedKey:
    """An API key split into its parts (well formed, not yet verified)."""

    key_id: str
    secret: str


def parse_api_key(token: str) -> ParsedKey | None:
    """The parts of ``pxk_<key_id>_<secret>``, or None when ``token`` is not shaped so."""
    if not token.startswith(KEY_PREFIX):
        return None
    key_id, sep, secret = token.removeprefix(KEY_PREFIX).partition("_")
    if not sep or not _KEY_ID.fullmatch(key_id) or not _SECRET.fullmatch(secret):
        return None
    return ParsedKey(key_id, secret)


def hash_secret(secret: str) -> str:
    """The ``key_hash`` stored for ``secret`` (see the module docstring)."""
    return _HASH_SCHEME + hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, key_hash: str) -> bool:
    """Whether ``secret`` hashes to ``key_hash``, compared in constant time. A hash of an
    unknown scheme never matches."""
    if not key_hash.startswith(_HASH_SCHEME):
        return False
    return hmac.compare_digest(hash_secret(secret).encode(), key_hash.encode())


def validate_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """``scopes`` without duplicates, in order; ValueError for a scope that is empty or
    holds a space, quote, backslash or control character (RFC 6749 §3.3)."""
    seen: dict[str, None] = {}
    for scope in scopes:
        if not isinstance(scope, str) or not _SCOPE.fullmatch(scope):
            raise ValueError(f"invalid scope {scope!r}: use printable ASCII without spaces, quotes or \\")
        seen[scope] = None
    return tuple(seen)


def _new_key_id() -> str:
    return "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(_KEY_ID_LENGTH))


async def create_api_key(
    store: Store, tenant: str, user: str | None = None, scopes: Iterable[str] = ()
) -> tuple[str, ApiKeyEntry]:
    """Make and store a key for (``tenant``, ``user``) with ``scopes``.

    Returns the plaintext key — the only time it exists outside the caller — and the stored
    entry, which holds only its hash. ValueError for an empty or overlong tenant, an empty
    user or a bad scope (:func:`validate_scopes`). Store errors propagate.
    """
    if not tenant or len(tenant) > _MAX_TENANT:
        raise ValueError(f"tenant must be 1 to {_MAX_TENANT} characters, got {len(tenant)}")
    if user is not None and not user:
        raise ValueError("user must not be empty (leave it out for a key of no particular user)")
    clean_scopes = validate_scopes(scopes)
    for attempt in range(3):
        key_id, secret = _new_key_id(), secrets.token_urlsafe(_SECRET_BYTES)
        entry = ApiKeyEntry(
            key_id=key_id,
            tenant=tenant,
            user=user,
            scopes=clean_scopes,
            key_hash=hash_secret(secret),
            created_at=datetime.now(UTC),
        )
        try:
            await store.add_api_key(entry)
        except Conflict:  # a key id drawn twice: ~2**-95 per pair, so never twice in a row
            if attempt == 2:
                raise
            continue
        return f"{KEY_PREFIX}{key_id}_{secret}", entry
    raise AssertionError("unreachable")  # pragma: no cover


async def revoke_api_key(store: Store, tenant: str, key_id: str) -> None:
    """Revoke ``key_id`` of ``tenant``; revoking again keeps the first time. NotFound when
    ``tenant`` has no such key (whether or not another tenant has it)."""
    await store.revoke_api_key(tenant, key_id)


async def list_api_keys(store: Store, tenant: str) -> list[ApiKeyEntry]:
    """``tenant``'s keys, revoked ones included, oldest first. Entries carry ``key_hash``:
    never show it."""
    return await store.list_api_keys(tenant)


async def verify_api_key(store: Store, token: str) -> ApiKeyEntry | None:
    """The live entry ``token`` (a ``pxk_`` key) stands for, or None when it is malformed,
    unknown, revoked or its secret does not match. :class:`StoreUnavailable` propagates:
    a store that cannot answer must not look like a bad key."""
    parsed = parse_api_key(token)
    if parsed is None:
        return None
    try:
        entry = await store.get_api_key(parsed.key_id)
    except NotFound:
        return None
    if not secret_matches(parsed.secret, entry.key_hash) or entry.revoked_at is not None:
        return None
    return entry
