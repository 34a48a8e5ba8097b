"""API keys: the format, hashed-only storage, constant-time verification, revocation,
tenant scoping, and the verifier's answers for keys, on a real SQLite file and a real
redis-server; a redis-server that goes away is StoreUnavailable, never a refused key."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis

from planexec.server import _auth_keys
from planexec.server._auth import PlanexecTokenVerifier, Principal, principal_from_token
from planexec.server._auth_keys import (
    create_api_key,
    hash_secret,
    list_api_keys,
    parse_api_key,
    revoke_api_key,
    secret_matches,
    verify_api_key,
)
from planexec.store import ApiKeyEntry, Conflict, NotFound, Store, StoreUnavailable, open_store

from ..store.redis_server import RedisServer

pytestmark = pytest.mark.anyio

KEY_SHAPE = re.compile(r"pxk_(?P<key_id>[A-Za-z0-9]{16})_(?P<secret>[A-Za-z0-9_-]{43})")


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path / 'keys.db'}") as opened:
        yield opened


def _files_holding(directory: Path, needle: bytes) -> list[Path]:
    """The store's files (the database and its WAL) that hold ``needle``."""
    files = list(directory.glob("keys.db*"))
    assert files
    return [path for path in files if needle in path.read_bytes()]


def _flip(text: str, index: int) -> str:
    """``text`` with one character changed (to another URL-safe character)."""
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


async def test_created_key_has_the_documented_shape_and_entry(store: Store) -> None:
    key, entry = await create_api_key(store, "acme", "alice", ["runs:read", "runs:write"])
    match = KEY_SHAPE.fullmatch(key)
    assert match is not None
    assert match["key_id"] == entry.key_id
    assert (entry.tenant, entry.user, entry.scopes, entry.revoked_at) == (
        "acme",
        "alice",
        ("runs:read", "runs:write"),
        None,
    )
    assert entry.created_at.tzinfo is not None


async def test_keys_are_distinct(store: Store) -> None:
    keys = [(await create_api_key(store, "acme"))[0] for _ in range(20)]
    assert len(set(keys)) == 20
    assert len({parse_api_key(key).key_id for key in keys if parse_api_key(key)}) == 20


async def test_stored_entry_holds_the_hash_and_never_the_secret(sqlite_store: Store, tmp_path: Path) -> None:
    key, entry = await create_api_key(sqlite_store, "acme", "alice")
    parsed = parse_api_key(key)
    assert parsed is not None
    stored = await sqlite_store.get_api_key(entry.key_id)
    assert stored.key_hash == "sha256$" + hashlib.sha256(parsed.secret.encode()).hexdigest()
    assert parsed.secret not in stored.model_dump_json()
    assert _files_holding(tmp_path, parsed.secret.encode()) == []


async def test_the_key_verifies(store: Store) -> None:
    key, entry = await create_api_key(store, "acme", "alice", ["a"])
    assert await verify_api_key(store, key) == entry


@pytest.mark.parametrize("where", ["secret_first", "secret_last", "key_id"])
async def test_a_one_character_change_fails(store: Store, where: str) -> None:
    key, _ = await create_api_key(store, "acme")
    index = {"secret_first": 21, "secret_last": len(key) - 1, "key_id": 4}[where]
    assert await verify_api_key(store, _flip(key, index)) is None


async def test_a_truncated_or_extended_secret_fails(store: Store) -> None:
    key, _ = await create_api_key(store, "acme")
    assert await verify_api_key(store, key[:-1]) is None
    assert await verify_api_key(store, key + "A") is None


async def test_verification_compares_digests_in_constant_time(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(_auth_keys.hmac, "compare_digest", spy)
    key, entry = await create_api_key(store, "acme")
    assert await verify_api_key(store, key) is not None
    assert await verify_api_key(store, _flip(key, len(key) - 1)) is None
    assert len(calls) == 2
    assert all(stored == entry.key_hash.encode() for _, stored in calls)


def test_a_hash_of_an_unknown_scheme_never_matches() -> None:
    secret = "s" * 43
    bare = hashlib.sha256(secret.encode()).hexdigest()
    assert secret_matches(secret, hash_secret(secret))
    assert not secret_matches(secret, bare)
    assert not secret_matches(secret, "md5$" + bare)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "pxk_",
        "pxk_abcdefghijkl",
        "pxk_abcdefghijkl_",
        "pxk_short_" + "s" * 43,
        "pxk_abcdefgh-jkl_" + "s" * 43,
        "pxk_abcdefghijkl_" + "s" * 31,
        "pxk_abcdefghijkl_" + "s" * 129,
        "pxk_abcdefghijkl_" + "s" * 42 + "=",
        "PXK_abcdefghijkl_" + "s" * 43,
        "Bearer pxk_abcdefghijkl_" + "s" * 43,
    ],
)
def test_malformed_keys_do_not_parse(token: str) -> None:
    assert parse_api_key(token) is None


def test_a_secret_may_hold_underscores() -> None:
    parsed = parse_api_key("pxk_abcdefghijklmnop_" + "_-" * 20 + "xyz")
    assert parsed is not None
    assert (parsed.key_id, parsed.secret) == ("abcdefghijklmnop", "_-" * 20 + "xyz")


async def test_an_unknown_key_id_verifies_to_none(store: Store) -> None:
    assert await verify_api_key(store, "pxk_abcdefghijklmnop_" + "s" * 43) is None


async def test_a_revoked_key_is_refused(store: Store) -> None:
    key, entry = await create_api_key(store, "acme")
    await revoke_api_key(store, "acme", entry.key_id)
    assert await verify_api_key(store, key) is None
    await revoke_api_key(store, "acme", entry.key_id)  # again: not an error
    [listed] = await list_api_keys(store, "acme")
    assert listed.revoked_at is not None


async def test_another_tenant_cannot_revoke_a_key(store: Store) -> None:
    key, entry = await create_api_key(store, "acme")
    with pytest.raises(NotFound):
        await revoke_api_key(store, "globex", entry.key_id)
    assert await verify_api_key(store, key) == entry


async def test_revoking_an_unknown_key_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await revoke_api_key(store, "acme", "abcdefghijklmnop")


async def test_listing_is_per_tenant_oldest_first(store: Store) -> None:
    _, first = await create_api_key(store, "acme", "alice")
    _, second = await create_api_key(store, "acme", "bob")
    await create_api_key(store, "globex")
    assert [e.key_id for e in await list_api_keys(store, "acme")] == [first.key_id, second.key_id]
    assert await list_api_keys(store, "initech") == []


@pytest.mark.parametrize(
    ("tenant", "user", "scopes"),
    [
        ("", None, ()),
        ("t" * 257, None, ()),
        ("acme", "", ()),
        ("acme", None, ("",)),
        ("acme", None, ("two words",)),
        ("acme", None, ('quo"te',)),
        ("acme", None, ("back\\slash",)),
        ("acme", None, ("tab\t",)),
    ],
)
async def test_create_refuses_bad_values(
    store: Store, tenant: str, user: str | None, scopes: tuple[str, ...]
) -> None:
    with pytest.raises(ValueError):
        await create_api_key(store, tenant, user, scopes)
    assert await list_api_keys(store, tenant) == []


async def test_duplicate_scopes_are_kept_once_in_order(store: Store) -> None:
    _, entry = await create_api_key(store, "acme", scopes=["b", "a", "b"])
    assert entry.scopes == ("b", "a")


class _CollidingStore:
    """Refuses the first key id it is given, as if it existed already."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.refused = 0

    async def add_api_key(self, entry: ApiKeyEntry) -> None:
        if not self.refused:
            self.refused += 1
            raise Conflict(f"API key {entry.key_id!r} exists")
        await self.inner.add_api_key(entry)


async def test_a_key_id_collision_draws_a_new_key(store: Store) -> None:
    colliding = _CollidingStore(store)
    key, entry = await create_api_key(colliding, "acme")  # type: ignore[arg-type]
    assert colliding.refused == 1
    assert await verify_api_key(store, key) == entry


# the verifier, for keys


async def test_verifier_turns_a_key_into_an_access_token_and_principal(store: Store) -> None:
    key, entry = await create_api_key(store, "acme", "alice", ["runs:read"])
    token = await PlanexecTokenVerifier(store).verify_token(key)
    assert token is not None
    assert (token.token, token.client_id, token.scopes, token.expires_at, token.subject) == (
        key,
        entry.key_id,
        ["runs:read"],
        None,
        "alice",
    )
    assert token.claims == {"tenant": "acme", "user": "alice"}
    assert principal_from_token(token) == Principal("acme", "alice", frozenset({"runs:read"}), entry.key_id)


async def test_verifier_key_without_user_has_no_user(store: Store) -> None:
    key, entry = await create_api_key(store, "acme")
    token = await PlanexecTokenVerifier(store).verify_token(key)
    assert token is not None
    assert principal_from_token(token) == Principal("acme", None, frozenset(), entry.key_id)


async def test_verifier_refuses_bad_unknown_and_revoked_keys(store: Store) -> None:
    verifier = PlanexecTokenVerifier(store)
    key, entry = await create_api_key(store, "acme")
    assert await verifier.verify_token(_flip(key, len(key) - 1)) is None
    assert await verifier.verify_token("pxk_nonsense") is None
    assert await verifier.verify_token("") is None
    assert await verifier.verify_token("not-a-key-and-no-jwt-configured") is None
    await revoke_api_key(store, "acme", entry.key_id)
    assert await verifier.verify_token(key) is None


async def test_redis_holds_the_hash_and_never_the_secret(redis_server: RedisServer) -> None:
    redis.Redis.from_url(redis_server.url).flushdb()
    async with open_store(redis_server.url) as store:
        key, _ = await create_api_key(store, "acme", "alice")
    parsed = parse_api_key(key)
    assert parsed is not None
    raw = redis.Redis.from_url(redis_server.url)
    for name in raw.scan_iter():
        dumped = raw.dump(name)
        assert dumped is not None and parsed.secret.encode() not in dumped


async def test_a_redis_server_that_went_away_is_store_unavailable_not_a_refusal(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    try:
        async with open_store(server.url) as store:
            key, _ = await create_api_key(store, "acme")
            verifier = PlanexecTokenVerifier(store)
            assert await verifier.verify_token(key) is not None
            server.kill()
            with pytest.raises(StoreUnavailable):
                await verifier.verify_token(key)
    finally:
        server.stop()
