"""JWTs through :class:`PlanexecTokenVerifier`: HS256 with a secret, RS256/ES256 from a
local JWKS file, every claim check, algorithm confusion, scopes, and configuration."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from planexec.server._auth import (
    AuthConfigError,
    JwtConfig,
    PlanexecTokenVerifier,
    Principal,
    jwt_config_from,
    principal_from_token,
)
from planexec.store import Store, open_store

pytestmark = pytest.mark.anyio

SECRET = "a-test-secret-of-at-least-thirty-two-bytes"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _public_jwk(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, kid: str, **extra: Any
) -> dict[str, Any]:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    else:
        jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, **extra}


def _write_jwks(directory: Path, *keys: dict[str, Any]) -> Path:
    path = directory / "jwks.json"
    path.write_text(json.dumps({"keys": list(keys)}))
    return path


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": "alice", "tenant": "acme", "exp": now + 300, "iat": now}
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _hs256(secret: str = SECRET, **overrides: Any) -> str:
    return jwt.encode(_claims(**overrides), secret, algorithm="HS256")


def _rs256(key: rsa.RSAPrivateKey = RSA_KEY, kid: str | None = "rsa-1", **overrides: Any) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(_claims(**overrides), key, algorithm="RS256", headers=headers)


def _es256(kid: str | None = "ec-1", **overrides: Any) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(_claims(**overrides), EC_KEY, algorithm="ES256", headers=headers)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forged(header: dict[str, Any], claims: dict[str, Any], hmac_key: bytes | None) -> str:
    """A token built by hand (pyjwt refuses to make these): HMAC-SHA256-signed with
    ``hmac_key``, or unsigned."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if hmac_key is None:
        return signing_input + "."
    signature = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path / 'jwt.db'}") as opened:
        yield opened


@pytest.fixture
def jwks_file(tmp_path: Path) -> Path:
    return _write_jwks(tmp_path, _public_jwk(RSA_KEY, "rsa-1"), _public_jwk(EC_KEY, "ec-1"))


def _verifier(store: Store, **config: Any) -> PlanexecTokenVerifier:
    return PlanexecTokenVerifier(store, JwtConfig(**config))


# happy paths


async def test_hs256_token_gives_access_token_and_principal(store: Store) -> None:
    token = _hs256(scope="runs:read runs:write", iss="https://idp.example")
    access = await _verifier(store, secret=SECRET, leeway_s=30).verify_token(token)
    assert access is not None
    assert (access.token, access.client_id, access.subject) == (token, "jwt:alice", "alice")
    assert access.scopes == ["runs:read", "runs:write"]
    assert access.expires_at == jwt.decode(token, SECRET, algorithms=["HS256"])["exp"] + 30
    assert access.claims == {"tenant": "acme", "user": "alice", "iss": "https://idp.example"}
    expected = Principal("acme", "alice", frozenset({"runs:read", "runs:write"}), "jwt:alice")
    assert principal_from_token(access) == expected


@pytest.mark.parametrize("make", [_rs256, _es256])
async def test_jwks_tokens_verify_by_kid(store: Store, jwks_file: Path, make: Any) -> None:
    access = await _verifier(store, jwks_file=jwks_file).verify_token(make())
    assert access is not None
    assert principal_from_token(access) == Principal("acme", "alice", frozenset(), "jwt:alice")


async def test_jwks_token_without_kid_uses_the_only_key_of_its_algorithm(
    store: Store, jwks_file: Path
) -> None:
    verifier = _verifier(store, jwks_file=jwks_file)
    assert await verifier.verify_token(_rs256(kid=None)) is not None
    assert await verifier.verify_token(_es256(kid=None)) is not None


async def test_jwks_token_without_kid_is_refused_when_two_keys_could_match(
    store: Store, tmp_path: Path
) -> None:
    path = _write_jwks(tmp_path, _public_jwk(RSA_KEY, "a"), _public_jwk(OTHER_RSA_KEY, "b"))
    verifier = _verifier(store, jwks_file=path)
    assert await verifier.verify_token(_rs256(kid=None)) is None
    assert await verifier.verify_token(_rs256(kid="a")) is not None
    assert await verifier.verify_token(_rs256(OTHER_RSA_KEY, kid="b")) is not None


async def test_secret_and_jwks_together_each_take_their_own_tokens(store: Store, jwks_file: Path) -> None:
    verifier = _verifier(store, secret=SECRET, jwks_file=jwks_file)
    assert await verifier.verify_token(_hs256()) is not None
    assert await verifier.verify_token(_rs256()) is not None


async def test_a_custom_tenant_claim(store: Store) -> None:
    claim = "https://planexec.example/tenant"
    token = _hs256(tenant=None, **{claim: "globex"})
    access = await _verifier(store, secret=SECRET, tenant_claim=claim).verify_token(token)
    assert access is not None
    assert principal_from_token(access).tenant == "globex"
    assert await _verifier(store, secret=SECRET).verify_token(token) is None


async def test_audience_and_issuer_when_configured(store: Store) -> None:
    verifier = _verifier(store, secret=SECRET, audience="planexec", issuer="https://idp.example")
    good = {"aud": "planexec", "iss": "https://idp.example"}
    assert await verifier.verify_token(_hs256(**good)) is not None
    assert await verifier.verify_token(_hs256(**{**good, "aud": ["other", "planexec"]})) is not None


# refusals


def _now() -> int:
    return int(time.time())


@pytest.mark.parametrize(
    ("config", "token"),
    [
        pytest.param({}, lambda: _hs256(exp=_now() - 60), id="expired"),
        pytest.param({}, lambda: _hs256(nbf=_now() + 120), id="not-yet-valid"),
        pytest.param({}, lambda: _hs256(iat=_now() + 120), id="issued-in-the-future"),
        pytest.param({}, lambda: _hs256(exp=None), id="no-exp"),
        pytest.param({}, lambda: _hs256(sub=None), id="no-sub"),
        pytest.param({}, lambda: _hs256(sub=""), id="empty-sub"),
        pytest.param({}, lambda: _hs256(tenant=None), id="no-tenant"),
        pytest.param({}, lambda: _hs256(tenant=""), id="empty-tenant"),
        pytest.param({}, lambda: _hs256(tenant=["acme"]), id="tenant-not-a-string"),
        pytest.param({}, lambda: _hs256(tenant="t" * 257), id="tenant-too-long"),
        pytest.param({}, lambda: _hs256("another-secret-of-at-least-thirty-two-b"), id="wrong-secret"),
        pytest.param({}, lambda: _hs256(aud="someone-else"), id="aud-but-none-configured"),
        pytest.param({"audience": "planexec"}, lambda: _hs256(aud="other"), id="wrong-aud"),
        pytest.param({"audience": "planexec"}, lambda: _hs256(), id="missing-aud"),
        pytest.param({"issuer": "https://idp.example"}, lambda: _hs256(iss="https://evil"), id="wrong-iss"),
        pytest.param({"issuer": "https://idp.example"}, lambda: _hs256(), id="missing-iss"),
        pytest.param({}, lambda: _hs256(scope=["a", 1]), id="scope-list-with-a-number"),
        pytest.param({}, lambda: _hs256(scope=None, scp=["a b"]), id="scp-entry-with-a-space"),
        pytest.param({}, lambda: _hs256(scope=7), id="scope-a-number"),
        pytest.param({}, lambda: _hs256()[:-2], id="truncated-signature"),
        pytest.param({}, lambda: "not.a.jwt", id="garbage"),
        pytest.param({}, lambda: "x" * 20_000, id="overlong"),
        pytest.param({}, lambda: _forged({"alg": "none", "typ": "JWT"}, _claims(), None), id="alg-none"),
        pytest.param({}, lambda: _forged({"alg": "None"}, _claims(), None), id="alg-None"),
        pytest.param(
            {},
            lambda: _forged({"alg": "HS512"}, _claims(), SECRET.encode()),
            id="hs512-header-with-hs256-sig",
        ),
    ],
)
async def test_hs256_refusals(store: Store, config: dict[str, Any], token: Any) -> None:
    assert await _verifier(store, secret=SECRET, **config).verify_token(token()) is None


async def test_expired_within_the_leeway_is_accepted(store: Store) -> None:
    token = _hs256(exp=_now() - 10)
    assert await _verifier(store, secret=SECRET, leeway_s=30).verify_token(token) is not None
    assert await _verifier(store, secret=SECRET, leeway_s=0).verify_token(token) is None


def _public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


async def test_hs256_signed_with_the_public_key_is_refused_when_only_jwks(
    store: Store, jwks_file: Path
) -> None:
    """The classic algorithm confusion: the attacker HMACs with the published RSA key."""
    verifier = _verifier(store, jwks_file=jwks_file)
    for header in ({"alg": "HS256", "kid": "rsa-1"}, {"alg": "HS256"}):
        assert await verifier.verify_token(_forged(header, _claims(), _public_pem(RSA_KEY))) is None
    jwk_bytes = json.dumps(_public_jwk(RSA_KEY, "rsa-1")).encode()
    assert await verifier.verify_token(_forged({"alg": "HS256"}, _claims(), jwk_bytes)) is None


async def test_hs256_signed_with_the_public_key_is_refused_beside_a_secret(
    store: Store, jwks_file: Path
) -> None:
    verifier = _verifier(store, secret=SECRET, jwks_file=jwks_file)
    forged = _forged({"alg": "HS256", "kid": "rsa-1"}, _claims(), _public_pem(RSA_KEY))
    assert await verifier.verify_token(forged) is None


async def test_asymmetric_tokens_are_refused_when_only_a_secret(store: Store) -> None:
    verifier = _verifier(store, secret=SECRET)
    assert await verifier.verify_token(_rs256()) is None
    assert await verifier.verify_token(_es256()) is None


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda: _rs256(OTHER_RSA_KEY), id="signed-by-an-unknown-key"),
        pytest.param(lambda: _rs256(kid="ec-1"), id="rs256-naming-the-ec-key"),
        pytest.param(lambda: _es256(kid="rsa-1"), id="es256-naming-the-rsa-key"),
        pytest.param(lambda: _rs256(kid="nobody"), id="unknown-kid"),
        pytest.param(
            lambda: jwt.encode(_claims(), RSA_KEY, algorithm="PS256", headers={"kid": "rsa-1"}),
            id="ps256-with-an-rs256-key",
        ),
        pytest.param(lambda: _rs256(exp=_now() - 60), id="expired"),
        pytest.param(lambda: _rs256(tenant=None), id="no-tenant"),
        pytest.param(lambda: _hs256(), id="hs256-without-a-secret"),
    ],
)
async def test_jwks_refusals(store: Store, jwks_file: Path, token: Any) -> None:
    assert await _verifier(store, jwks_file=jwks_file).verify_token(token()) is None


async def test_jwts_are_refused_when_jwt_auth_is_not_configured(store: Store) -> None:
    assert await PlanexecTokenVerifier(store).verify_token(_hs256()) is None


async def test_a_pxk_token_never_falls_through_to_jwt(store: Store) -> None:
    verifier = _verifier(store, secret=SECRET)
    assert await verifier.verify_token("pxk_" + _hs256()) is None


# scopes


@pytest.mark.parametrize(
    ("claims", "scopes"),
    [
        ({}, []),
        ({"scope": "a b  c"}, ["a", "b", "c"]),
        ({"scope": ""}, []),
        ({"scope": "a a b"}, ["a", "b"]),
        ({"scp": ["x", "y"]}, ["x", "y"]),
        ({"scp": "x y"}, ["x", "y"]),
        ({"scope": "a", "scp": ["x"]}, ["a"]),
    ],
)
async def test_scopes_come_from_scope_or_scp(store: Store, claims: dict[str, Any], scopes: list[str]) -> None:
    access = await _verifier(store, secret=SECRET).verify_token(_hs256(**claims))
    assert access is not None
    assert access.scopes == scopes


# configuration


def test_config_needs_a_secret_or_a_jwks_file() -> None:
    with pytest.raises(AuthConfigError):
        JwtConfig()


@pytest.mark.parametrize(
    "config",
    [{"secret": "short"}, {"secret": SECRET, "tenant_claim": ""}, {"secret": SECRET, "leeway_s": -1}],
)
def test_config_refuses_values_that_cannot_work(config: dict[str, Any]) -> None:
    with pytest.raises(AuthConfigError):
        JwtConfig(**config)


def test_jwt_config_from_explicit_values(tmp_path: Path) -> None:
    assert jwt_config_from() is None
    assert jwt_config_from(secret="", jwks_file="", tenant_claim="", audience="", issuer="") is None
    config = jwt_config_from(secret=SECRET, tenant_claim="org", audience="aud", issuer="iss", leeway_s=5)
    assert config == JwtConfig(secret=SECRET, tenant_claim="org", audience="aud", issuer="iss", leeway_s=5)
    assert jwt_config_from(jwks_file=str(tmp_path / "k.json")) == JwtConfig(jwks_file=tmp_path / "k.json")


def test_config_repr_hides_the_secret() -> None:
    assert SECRET not in repr(JwtConfig(secret=SECRET))


@pytest.mark.parametrize("stray", ["tenant_claim", "audience", "issuer"])
def test_jwt_config_from_refuses_claims_settings_without_a_key(stray: str) -> None:
    with pytest.raises(AuthConfigError):
        jwt_config_from(**{stray: "x"})


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps([]),
        json.dumps({"keys": []}),
        json.dumps({"keys": ["x"]}),
        json.dumps({"keys": [{"kty": "oct", "k": _b64(SECRET.encode())}]}),
        json.dumps({"keys": [{"kty": "RSA", "n": "x"}]}),
        json.dumps({"keys": [{**_public_jwk(RSA_KEY, "a"), "alg": "HS256"}]}),
        json.dumps({"keys": [json.loads(RSAAlgorithm.to_jwk(RSA_KEY))]}),  # private
        json.dumps({"keys": [{**_public_jwk(RSA_KEY, "a"), "use": "enc"}]}),  # no signing key
    ],
)
async def test_unusable_jwks_files_are_config_errors(store: Store, tmp_path: Path, content: str) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(content)
    with pytest.raises(AuthConfigError):
        _verifier(store, jwks_file=path)


async def test_a_missing_jwks_file_is_a_config_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(AuthConfigError):
        _verifier(store, jwks_file=tmp_path / "absent.json")


def test_principal_from_a_foreign_token_is_a_value_error() -> None:
    from mcp.server.auth.provider import AccessToken

    with pytest.raises(ValueError):
        principal_from_token(AccessToken(token="t", client_id="c", scopes=[]))
    with pytest.raises(ValueError):
        principal_from_token(
            AccessToken(token="t", client_id="c", scopes=[], claims={"tenant": "a", "user": 1})
        )
