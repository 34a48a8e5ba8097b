"""``planexec keys create|list|revoke`` on a real SQLite store: through CliRunner on an app
with only the keys group registered, and once through the installed console script."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
import typer
from typer.testing import CliRunner, Result

from planexec.server._auth_keys import verify_api_key
from planexec.server._keys_cli import register
from planexec.store import ApiKeyEntry, open_store

from .cli import planexec

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.callback()
def _root() -> None:
    """Only the keys group."""


register(app)


def keys(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, ["keys", *args], env=env)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'keys.db'}"


def _verify(url: str, key: str) -> ApiKeyEntry | None:
    async def main() -> ApiKeyEntry | None:
        async with open_store(url) as store:
            return await verify_api_key(store, key)

    return anyio.run(main)


def _create(url: str, *args: str) -> dict[str, Any]:
    result = keys("create", "--store", url, "--json", *args)
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_create_json_prints_the_key_once_and_it_verifies(url: str) -> None:
    created = _create(url, "--tenant", "acme", "--user", "alice", "--scopes", "runs:read, runs:write")
    assert list(created) == ["key", "key_id", "tenant", "user", "scopes"]
    assert created["key"].startswith(f"pxk_{created['key_id']}_")
    assert (created["tenant"], created["user"], created["scopes"]) == (
        "acme",
        "alice",
        ["runs:read", "runs:write"],
    )
    entry = _verify(url, created["key"])
    assert entry is not None
    assert (entry.key_id, entry.tenant, entry.user) == (created["key_id"], "acme", "alice")


def test_create_human_prints_the_key_on_a_line_of_its_own(url: str) -> None:
    result = keys("create", "--store", url, "--tenant", "acme")
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("pxk_")]
    assert len(lines) == 1
    assert _verify(url, lines[0]) is not None


def test_create_without_user_or_scopes(url: str) -> None:
    created = _create(url, "--tenant", "acme")
    assert (created["user"], created["scopes"]) == (None, [])


@pytest.mark.parametrize(
    "args",
    [
        ["--scopes", "a b"],
        ["--scopes", 'a,"b"'],
        ["--user", ""],
        ["--tenant", ""],
    ],
)
def test_create_refuses_bad_values_with_exit_2_and_stores_nothing(url: str, args: list[str]) -> None:
    tenant = [] if "--tenant" in args else ["--tenant", "acme"]
    result = keys("create", "--store", url, *tenant, *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    listed = keys("list", "--store", url, "--tenant", "acme", "--json")
    assert json.loads(listed.stdout) == []


def test_create_requires_a_tenant(url: str) -> None:
    assert keys("create", "--store", url).exit_code == 2


def test_list_shows_keys_but_never_hashes_or_secrets(url: str) -> None:
    first = _create(url, "--tenant", "acme", "--user", "alice", "--scopes", "a")
    second = _create(url, "--tenant", "acme")
    _create(url, "--tenant", "globex")
    result = keys("list", "--store", url, "--tenant", "acme", "--json")
    assert result.exit_code == 0
    listed = json.loads(result.stdout)
    assert [item["key_id"] for item in listed] == [first["key_id"], second["key_id"]]
    assert set(listed[0]) == {"key_id", "tenant", "user", "scopes", "created_at", "revoked_at"}
    assert (listed[0]["user"], listed[0]["scopes"], listed[0]["revoked_at"]) == ("alice", ["a"], None)
    human = keys("list", "--store", url, "--tenant", "acme")
    assert human.exit_code == 0
    for output in (result.stdout, human.stdout):
        assert "sha256" not in output
        for created in (first, second):
            assert created["key"] not in output
            # the secret is all after pxk_<key_id>_ (it may itself hold "_" and "-")
            assert created["key"].removeprefix(f"pxk_{created['key_id']}_") not in output
    assert first["key_id"] in human.stdout and second["key_id"] in human.stdout


def test_list_defaults_to_the_configured_tenant(url: str) -> None:
    created = _create(url, "--tenant", "acme")
    result = keys("list", "--json", env={"PLANEXEC_STORE": url, "PLANEXEC_TENANT": "acme"})
    assert result.exit_code == 0, result.stderr
    assert [item["key_id"] for item in json.loads(result.stdout)] == [created["key_id"]]
    assert json.loads(keys("list", "--json", env={"PLANEXEC_STORE": url}).stdout) == []  # tenant "local"


def test_list_of_an_empty_tenant(url: str) -> None:
    result = keys("list", "--store", url, "--tenant", "nobody")
    assert result.exit_code == 0
    assert "pxk_" not in result.stdout


def test_revoke_refuses_the_key_from_then_on(url: str) -> None:
    created = _create(url, "--tenant", "acme")
    result = keys("revoke", created["key_id"], "--tenant", "acme", "--store", url, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"key_id": created["key_id"], "tenant": "acme", "revoked": True}
    assert _verify(url, created["key"]) is None
    [listed] = json.loads(keys("list", "--store", url, "--tenant", "acme", "--json").stdout)
    assert listed["revoked_at"] is not None
    again = keys("revoke", created["key_id"], "--tenant", "acme", "--store", url)
    assert again.exit_code == 0


@pytest.mark.parametrize("tenant", ["acme", "globex"])
def test_revoke_of_a_key_the_tenant_does_not_have_is_not_found(url: str, tenant: str) -> None:
    created = _create(url, "--tenant", "acme")
    key_id = "abcdefghijklmnop" if tenant == "acme" else created["key_id"]
    result = keys("revoke", key_id, "--tenant", tenant, "--store", url, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "not_found"
    assert _verify(url, created["key"]) is not None


def test_revoke_requires_a_tenant(url: str) -> None:
    assert keys("revoke", "abcdefghijklmnop", "--store", url).exit_code == 2


def test_store_comes_from_planexec_store(url: str) -> None:
    result = keys("create", "--tenant", "acme", "--json", env={"PLANEXEC_STORE": url})
    assert result.exit_code == 0, result.stderr
    assert _verify(url, json.loads(result.stdout)["key"]) is not None


def test_an_unusable_store_url_is_a_usage_error() -> None:
    result = keys("create", "--tenant", "acme", "--store", "ftp://nowhere")
    assert result.exit_code == 2
    assert result.stdout == ""


def test_an_unavailable_store_is_exit_1(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = keys("create", "--tenant", "acme", "--json", "--store", f"sqlite:///{blocker / 'keys.db'}")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"]["code"] == "store_unavailable"


def _keys_registered() -> bool:
    from planexec.server._cli import app as planexec_app

    group = typer.main.get_command(planexec_app)
    # typer's TyperGroup is not a click.Group subclass in every typer release
    commands = getattr(group, "commands", None)
    return isinstance(commands, dict) and "keys" in commands


@pytest.mark.xfail(
    not _keys_registered(), reason="server/_cli.py does not register _keys_cli yet", strict=True
)
def test_the_console_script_creates_lists_and_revokes(url: str) -> None:
    created = planexec("keys", "create", "--tenant", "acme", "--user", "alice", "--json", "--store", url)
    assert created.returncode == 0, created.stderr
    document = json.loads(created.stdout)
    assert _verify(url, document["key"]) is not None
    listed = planexec("keys", "list", "--tenant", "acme", "--json", "--store", url)
    assert [item["key_id"] for item in json.loads(listed.stdout)] == [document["key_id"]]
    revoked = planexec("keys", "revoke", document["key_id"], "--tenant", "acme", "--store", url)
    assert revoked.returncode == 0, revoked.stderr
    assert _verify(url, document["key"]) is None
    unknown = planexec("keys", "revoke", document["key_id"], "--tenant", "globex", "--store", url)
    assert unknown.returncode == 1
