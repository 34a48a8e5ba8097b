"""Settings: the environment (``PLANEXEC_*``) read once, at the CLI edge."""

from __future__ import annotations

import getpass
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planexec.server import app
from planexec.server._config import ConfigError, Settings, load_settings
from planexec.store import default_store_url


def test_defaults_are_the_data_directory_store_the_local_tenant_and_the_os_user(
    isolated_environment: Path,
) -> None:
    settings = load_settings()
    assert settings.store == default_store_url()
    assert settings.store == f"sqlite:///{isolated_environment / 'data' / 'planexec' / 'planexec.db'}"
    assert (settings.tenant, settings.user) == ("local", getpass.getuser())


def test_environment_variables_with_the_prefix_set_each_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANEXEC_STORE", "redis://example:6380/2")
    monkeypatch.setenv("PLANEXEC_TENANT", "acme")
    monkeypatch.setenv("PLANEXEC_USER", "ada")
    monkeypatch.setenv("PLANEXEC_SOMETHING_ELSE", "ignored")
    assert load_settings() == Settings(store="redis://example:6380/2", tenant="acme", user="ada")


def test_with_store_overrides_only_when_given() -> None:
    settings = Settings(store="sqlite:///a.db", tenant="t", user=None)
    assert settings.with_store(None) is settings
    assert settings.with_store("sqlite:///b.db") == Settings(store="sqlite:///b.db", tenant="t", user=None)


@pytest.mark.parametrize("name", ["PLANEXEC_TENANT", "PLANEXEC_STORE"])
def test_an_empty_value_is_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "")
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_settings_handed_in_stand_in_for_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANEXEC_STORE", "postgres://not-used")
    url = f"sqlite:///{tmp_path / 'given.db'}"
    settings = Settings(store=url, tenant="t", user="u")
    result = CliRunner().invoke(app, ["runs", "list", "--json"], obj=settings)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []
    assert (tmp_path / "given.db").is_file()
